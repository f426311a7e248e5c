"""nets/: the shared PyTorch network library (modules and training tools; no I/O).

Imports nothing from ``envs``, ``agents`` or ``arena``.
"""
