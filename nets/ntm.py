"""Neural Turing machine (Graves, Wayne & Danihelka 2014, "Neural Turing Machines"), an LSTM
baseline, and the copy and priority-sort tasks.

Each time step the controller (an ``nn.LSTMCell`` or a one-layer tanh network) reads the input
together with the previous step's read vectors; a linear layer turns its output into the
parameters of one write head and ``read_heads`` read heads. Every head addresses the ``N x M``
memory the same way (section 3.3 of the paper), each stage a pure function below:

1. content: ``w_c = softmax(beta * cosine(k, M_i))`` (``content_weights``);
2. interpolation with the head's previous weighting: ``w_g = g w_c + (1 - g) w_prev``;
3. convolutional shift over ``-r..r`` slots, circular: ``w~_i = sum_j w_g[j] s[i - j]``;
4. sharpening: ``w_i = w~_i^gamma / sum_j w~_j^gamma`` with ``gamma >= 1``.

The read heads read ``r = w^T M``, then the write head erases and adds:
``M <- M * (1 - w e^T) + w a^T``. Memory starts at a small constant (1e-6 everywhere), as
Collier & Beel (2018, "Implementing Neural Turing Machines") found to learn fastest; the first
weightings are one-hot on slot 0 and the first read vectors are learned.

The copy and priority-sort tasks are generated data, in nets/data.py (``copy_task``,
``priority_sort_task``); the network's output is scored (``bit_errors``) only during the output
phase (the last ``T`` steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ControllerKind = Literal["lstm", "feedforward"]


@dataclass(frozen=True)
class NTMConfig:
    """Shape of a neural Turing machine."""

    input_size: int
    """Input channels per time step."""
    output_size: int
    """Output channels (logits of bits) per time step."""
    controller: ControllerKind = "lstm"
    """lstm (an LSTMCell) or feedforward (one tanh layer; memory is then the only state)."""
    controller_size: int = 100
    """Controller units."""
    memory_slots: int = 64
    """N: memory locations (at least the longest sequence stored)."""
    memory_width: int = 20
    """M: width of each location."""
    read_heads: int = 1
    """Read heads (one write head)."""
    shift_range: int = 1
    """Shifts -r..r of the convolutional shift."""

    def __post_init__(self) -> None:
        if self.controller not in ("lstm", "feedforward"):
            raise ValueError(f"controller must be lstm or feedforward, got {self.controller!r}")
        for name in ("input_size", "output_size", "controller_size", "memory_slots", "memory_width", "read_heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.shift_range < self.memory_slots / 2:
            raise ValueError(f"shift_range must be in [0, memory_slots / 2), got {self.shift_range}")

    @property
    def head_parameters(self) -> int:
        """Per head: key (M), strength, gate, shift (2r + 1), sharpening."""
        return self.memory_width + 3 + 2 * self.shift_range + 1


class NTMState(NamedTuple):
    """Recurrent state: memory ``[B, N, M]``, read weightings ``[B, R, N]``, write weighting
    ``[B, N]``, read vectors ``[B, R, M]`` and the controller's ``(h, c)`` (``[B, H]`` each;
    zeros and unused for a feed-forward controller)."""

    memory: Tensor
    read_weights: Tensor
    write_weights: Tensor
    reads: Tensor
    controller: tuple[Tensor, Tensor]


class NTMOutput(NamedTuple):
    """Logits ``[B, T, O]`` and the weightings over time: read ``[B, T, R, N]``, write ``[B, T, N]``."""

    logits: Tensor
    read_weights: Tensor
    write_weights: Tensor


def content_weights(memory: Tensor, key: Tensor, strength: Tensor) -> Tensor:
    """``softmax_i(strength * cosine(key, memory_i))`` for K heads at once: ``memory [B, N, M]``,
    ``key [B, K, M]``, ``strength [B, K]`` (>= 0) -> ``[B, K, N]``."""
    key = key / (key.norm(dim=-1, keepdim=True) + 1e-8)
    unit = memory / (memory.norm(dim=-1, keepdim=True) + 1e-8)
    similarity = torch.bmm(key, unit.transpose(1, 2))  # (B, K, N)
    return torch.softmax(strength[..., None] * similarity, dim=-1)


def circular_shift(weights: Tensor, shift: Tensor) -> Tensor:
    """Circular convolution ``w~_i = sum_j w_j s[i - j]``: ``weights [..., N]``, ``shift [..., 2r + 1]``
    (a distribution over shifts ``-r..r``) -> ``[..., N]``. A shift of +1 moves weight to the next slot."""
    r = (shift.shape[-1] - 1) // 2
    rolled = torch.stack([torch.roll(weights, shifts=k, dims=-1) for k in range(-r, r + 1)], dim=-1)  # (..., N, S)
    return (rolled * shift[..., None, :]).sum(-1)


def sharpen(weights: Tensor, gamma: Tensor) -> Tensor:
    """``w^gamma / sum w^gamma``: ``weights [..., N]``, ``gamma [...]`` (>= 1) -> ``[..., N]``."""
    powered = (weights + 1e-12) ** gamma[..., None]
    return powered / powered.sum(-1, keepdim=True)


def address(memory: Tensor, previous: Tensor, key: Tensor, strength: Tensor, gate: Tensor, shift: Tensor,
            gamma: Tensor) -> Tensor:
    """The K heads' new weightings ``[B, K, N]``: content (``key [B, K, M]``, ``strength [B, K]``),
    interpolation with ``previous [B, K, N]`` by ``gate [B, K]``, circular shift (``shift [B, K, 2r + 1]``),
    sharpening (``gamma [B, K]``) (Graves et al. 2014, figure 2)."""
    w = content_weights(memory, key, strength)
    w = gate[..., None] * w + (1 - gate[..., None]) * previous
    return sharpen(circular_shift(w, shift), gamma)


def write_memory(memory: Tensor, weights: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """``M * (1 - w e^T) + w a^T``: ``memory [B, N, M]``, ``weights [B, N]``, ``erase`` (in [0, 1])
    and ``add`` ``[B, M]`` -> the new memory ``[B, N, M]``."""
    w = weights[:, :, None]  # (B, N, 1)
    return memory * (1 - w * erase[:, None, :]) + w * add[:, None, :]


def read_memory(memory: Tensor, weights: Tensor) -> Tensor:
    """``r_h = sum_i w_h[i] M_i``: ``memory [B, N, M]``, ``weights [B, R, N]`` -> ``[B, R, M]``."""
    return torch.bmm(weights, memory)


class NTM(nn.Module):
    """Controller + memory + one write head and ``read_heads`` read heads, unrolled over time."""

    def __init__(self, cfg: NTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        R, M, H = cfg.read_heads, cfg.memory_width, cfg.controller_size
        if cfg.controller == "lstm":
            self.controller = nn.LSTMCell(cfg.input_size + R * M, H)
        else:
            self.controller = nn.Linear(cfg.input_size + R * M, H)
        # One write head (with erase and add vectors) and R read heads, from the controller output.
        self.heads = nn.Linear(H, (R + 1) * cfg.head_parameters + 2 * M)
        self.output = nn.Linear(H + R * M, cfg.output_size)
        self.initial_reads = nn.Parameter(torch.randn(R, M) * 0.01)

    def initial_state(self, batch: int, device: torch.device | None = None) -> NTMState:
        """Constant memory (1e-6), weightings one-hot on slot 0, learned read vectors, zero controller."""
        cfg = self.cfg
        device = device or self.initial_reads.device
        memory = torch.full((batch, cfg.memory_slots, cfg.memory_width), 1e-6, device=device)
        w = torch.zeros(batch, cfg.memory_slots, device=device)
        w[:, 0] = 1.0
        reads = self.initial_reads.expand(batch, -1, -1)
        zeros = torch.zeros(batch, cfg.controller_size, device=device)
        return NTMState(memory, w[:, None].repeat(1, cfg.read_heads, 1), w, reads, (zeros, zeros))

    def step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One time step: ``x [B, I]`` -> logits ``[B, O]`` and the new state.

        All heads address the memory left by the previous step, in one batched call; the read
        heads read it, then the write head erases and adds (reads see earlier steps' writes, as
        in most implementations, e.g. Collier & Beel 2018)."""
        cfg = self.cfg
        B, R, M = x.shape[0], cfg.read_heads, cfg.memory_width
        inp = torch.cat([x, state.reads.reshape(B, -1)], -1)
        if cfg.controller == "lstm":
            h, c = self.controller(inp, state.controller)
        else:
            h, c = torch.tanh(self.controller(inp)), state.controller[1]
        p = self.heads(h)
        heads = p[:, : (R + 1) * cfg.head_parameters].view(B, R + 1, cfg.head_parameters)  # (B, R + 1, P)
        previous = torch.cat([state.read_weights, state.write_weights[:, None]], 1)  # (B, R + 1, N)
        w = self._address(state.memory, previous, heads)  # (B, R + 1, N)
        w_read, w_write = w[:, :R], w[:, R]
        reads = read_memory(state.memory, w_read)  # (B, R, M)
        erase = torch.sigmoid(p[:, -2 * M : -M])  # (B, M)
        add = torch.tanh(p[:, -M:])  # (B, M)
        memory = write_memory(state.memory, w_write, erase, add)
        logits = self.output(torch.cat([h, reads.reshape(B, -1)], -1))
        return logits, NTMState(memory, w_read, w_write, reads, (h, c))

    def forward(self, inputs: Tensor, state: NTMState | None = None) -> NTMOutput:
        """Unroll over ``inputs [B, T, I]`` from ``state`` (``None``: the initial state)."""
        if inputs.dim() != 3 or inputs.shape[-1] != self.cfg.input_size:
            raise ValueError(f"inputs must be [B, T, {self.cfg.input_size}], got shape {tuple(inputs.shape)}")
        state = state or self.initial_state(inputs.shape[0], inputs.device)
        logits, reads, writes = [], [], []
        for t in range(inputs.shape[1]):
            out, state = self.step(inputs[:, t], state)
            logits.append(out)
            reads.append(state.read_weights)
            writes.append(state.write_weights)
        return NTMOutput(torch.stack(logits, 1), torch.stack(reads, 1), torch.stack(writes, 1))

    def _address(self, memory: Tensor, previous: Tensor, p: Tensor) -> Tensor:
        """Squash the heads' raw parameters ``p [B, K, P]`` into their ranges and address memory."""
        M, S = self.cfg.memory_width, 2 * self.cfg.shift_range + 1
        key = torch.tanh(p[..., :M])
        strength = F.softplus(p[..., M])
        gate = torch.sigmoid(p[..., M + 1])
        shift = torch.softmax(p[..., M + 2 : M + 2 + S], dim=-1)
        gamma = 1 + F.softplus(p[..., M + 2 + S])
        return address(memory, previous, key, strength, gate, shift, gamma)


@dataclass(frozen=True)
class LSTMBaselineConfig:
    """A stacked LSTM mapping input bits to output logits at every step."""

    input_size: int
    output_size: int
    hidden: int = 256
    """Units per layer."""
    layers: int = 1
    """Stacked layers."""


class LSTMBaseline(nn.Module):
    """``nn.LSTM`` + a linear head: ``inputs [B, T, I]`` -> logits ``[B, T, O]``."""

    def __init__(self, cfg: LSTMBaselineConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lstm = nn.LSTM(cfg.input_size, cfg.hidden, cfg.layers, batch_first=True)
        self.head = nn.Linear(cfg.hidden, cfg.output_size)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.head(self.lstm(inputs)[0])


def lstm_hidden_for(parameters: int, input_size: int, output_size: int) -> int:
    """Width of a one-layer ``LSTMBaseline`` with about ``parameters`` parameters
    (``4H(I + H + 2) + H O + O``, solved for H)."""
    a, b, c = 4.0, 4.0 * (input_size + 2) + output_size, output_size - parameters
    return max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))


def bit_errors(logits: Tensor, targets: Tensor) -> Tensor:
    """Wrong bits per sequence ``[B]``: outputs ``logits [B, T, bits]`` thresholded at 0 (p = 0.5)."""
    return ((logits > 0).float() != targets).float().sum(dim=(1, 2))
