"""Shared test setup: headless pygame/matplotlib, and one torch thread (small tensors run
fastest single-threaded on small CPUs, and tests then do not fight each other for cores)."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
