"""Gradient checks the nets tests share (tests/test_nets_blocks.py, test_nets_heads.py,
test_nets_rnn.py and test_nets_generative.py)."""

from __future__ import annotations

import torch
from torch import nn


def assert_grads_flow(module: nn.Module) -> None:
    """After a backward pass: every parameter got a gradient, finite and not all zero."""
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


def assert_all_params_get_grads(module: nn.Module, *outputs: torch.Tensor) -> None:
    """Backward a random projection of the outputs (a plain sum would give the dueling
    advantage bias an exactly-zero gradient) and check every parameter's gradient."""
    gen = torch.Generator().manual_seed(123)
    loss = sum((out * torch.randn(out.shape, generator=gen)).sum() for out in outputs)
    loss.backward()
    assert_grads_flow(module)
