"""Pure tools for supervised data: splits by fractions, batching, image augmentation, and the
generated tasks (seq2seq's digit strings, the NTM's bit sequences).

Loading files is arena's job (``arena/io/datasets.py``); everything here maps tensors to tensors
(or a text to its pieces), and every generator is a pure function of a ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class Splits(NamedTuple):
    """Index tensors (long) of the train, validation and test parts; validation may be empty."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


class ImageSplits(NamedTuple):
    """``(x [n, C, H, W], y [n])`` tensors of the train, validation and test parts of an image dataset."""

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train[0].shape[1:])


class TextSplits(NamedTuple):
    """The train, validation and test pieces of a text."""

    train: str
    val: str
    test: str


def split_indices(
    n: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
    stratify: torch.Tensor | None = None,
) -> Splits:
    """Shuffle ``range(n)`` and cut it into train/val/test by ``fractions`` (summing to 1).

    Fractions as small as 0.01 work (0.98/0.01/0.01). With ``stratify`` (class labels
    ``[n]``) every class is cut in the same proportions, so small test sets keep the class
    balance. Deterministic for a seed; the parts are disjoint and cover ``range(n)``.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    g = torch.Generator().manual_seed(seed)
    groups = [torch.arange(n)] if stratify is None else [
        (stratify == c).nonzero()[:, 0] for c in torch.unique(stratify)
    ]
    parts: list[list[torch.Tensor]] = [[], [], []]
    for idx in groups:
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = round(fractions[2] * len(idx))
        n_val = round(fractions[1] * len(idx))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    out = [torch.cat(p) for p in parts]
    out = [p[torch.randperm(len(p), generator=g)] for p in out]  # mix the classes
    return Splits(*out)


def split_text(text: str, fractions: tuple[float, float, float]) -> TextSplits:
    """Contiguous train/validation/test pieces of ``text`` by fractions (summing to 1), in that order."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"--split needs 3 non-negative fractions summing to 1, got {fractions}")
    a = round(fractions[0] * len(text))
    b = a + round(fractions[1] * len(text))
    return TextSplits(text[:a], text[a:b], text[b:])


def batches(
    tensors: tuple[torch.Tensor, ...], batch_size: int, shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Minibatches of aligned tensors (same leading dim); the last batch may be smaller."""
    n = tensors[0].shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(tensors[0].device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(t[idx] for t in tensors)


def random_shift_rotate(
    images: torch.Tensor, max_shift: float = 1.0, max_degrees: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random translations (up to ``max_shift`` pixels) and rotations (up to ``max_degrees``)
    of images ``[B, C, H, W]``, one draw per image, bilinear, zero padding."""
    B, _, H, W = images.shape
    device = images.device
    u = torch.rand(B, 3, generator=generator).to(device) * 2 - 1  # (B, 3) in [-1, 1)
    angle = u[:, 0] * math.radians(max_degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2 s / size.
    tx, ty = u[:, 1] * 2 * max_shift / W, u[:, 2] * 2 * max_shift / H
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


# --- generated tasks: seq2seq's digit strings ----------------------------------------------------

SeqTaskName = Literal["reverse", "sort", "addition"]
"""reverse and sort a string of digits; add two ``L``-digit numbers (always ``L + 1`` result
digits; all numbers written least significant digit first, as in many toy addition setups:
``"321+540"`` is 123 + 45, ``"8610"`` is 168). All examples of one batch have the same length,
so nothing is padded."""

TOKENS: tuple[str, ...] = ("^", "$", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+")
"""The shared vocabulary: start (``^``), end (``$``), the ten digits and ``+``."""
SOS, EOS, DIGIT0, PLUS = 0, 1, 2, 12
VOCAB_SIZE = len(TOKENS)


class TaskBatch(NamedTuple):
    """A generated batch: ``source [B, S]`` and ``target [B, T]`` token ids (target ends with EOS)."""

    source: Tensor
    target: Tensor


def make_task(task: SeqTaskName, batch: int, length: int, generator: torch.Generator) -> TaskBatch:
    """A batch of ``task`` examples of ``length`` digits (per operand for addition), drawn from ``generator``.

    reverse: ``3 1 4`` -> ``4 1 3 $``; sort: ``3 1 4`` -> ``1 3 4 $``; addition (``L`` digits per
    operand, leading zeros allowed, every number written least significant digit first, so that
    output digit ``i`` depends on input digits ``i`` and the carry): ``54+76`` (45 + 67) -> ``211$`` (112).
    """
    if batch < 1 or length < 1:
        raise ValueError(f"batch and length must be >= 1, got {batch} and {length}")
    digits = torch.randint(0, 10, (batch, length), generator=generator)
    eos = torch.full((batch, 1), EOS, dtype=torch.long)
    if task == "reverse":
        return TaskBatch(digits + DIGIT0, torch.cat([digits.flip(1) + DIGIT0, eos], 1))
    if task == "sort":
        return TaskBatch(digits + DIGIT0, torch.cat([digits.sort(1).values + DIGIT0, eos], 1))
    if task == "addition":
        other = torch.randint(0, 10, (batch, length), generator=generator)
        total = add_digits(digits, other).flip(1)  # (B, L + 1), least significant first
        plus = torch.full((batch, 1), PLUS, dtype=torch.long)
        source = torch.cat([digits.flip(1) + DIGIT0, plus, other.flip(1) + DIGIT0], 1)
        return TaskBatch(source, torch.cat([total + DIGIT0, eos], 1))
    raise ValueError(f"unknown task {task!r}: reverse, sort or addition")


def add_digits(a: Tensor, b: Tensor) -> Tensor:
    """Column addition of digit tensors ``[B, L]`` (most significant first): the sum's ``[B, L + 1]`` digits."""
    out = torch.zeros(a.shape[0], a.shape[1] + 1, dtype=torch.long)
    carry = torch.zeros(a.shape[0], dtype=torch.long)
    for i in range(a.shape[1] - 1, -1, -1):
        s = a[:, i] + b[:, i] + carry
        out[:, i + 1], carry = s % 10, s // 10
    out[:, 0] = carry
    return out


def decode_tokens(tokens: Tensor) -> str:
    """Token ids ``[T]`` as text (``$`` is the end token)."""
    return "".join(TOKENS[int(t)] for t in tokens)


# --- generated tasks: the NTM's bit sequences ----------------------------------------------------


class BitBatch(NamedTuple):
    """A task batch: ``inputs [B, 2T + 1, I]`` and ``targets [B, T, bits]`` (the last T output steps)."""

    inputs: Tensor
    targets: Tensor


def copy_task(batch: int, length: int, bits: int, generator: torch.Generator) -> BitBatch:
    """Copy: ``length`` random ``bits``-wide vectors (channel ``bits`` is 0), a delimiter step (only
    channel ``bits`` set), then ``length`` blank steps during which the target is the sequence."""
    if batch < 1 or length < 1 or bits < 1:
        raise ValueError(f"batch, length and bits must be >= 1, got {batch}, {length}, {bits}")
    seq = torch.randint(0, 2, (batch, length, bits), generator=generator).float()
    inputs = torch.zeros(batch, 2 * length + 1, bits + 1)
    inputs[:, :length, :bits] = seq
    inputs[:, length, bits] = 1.0
    return BitBatch(inputs, seq)


def priority_sort_task(batch: int, length: int, bits: int, generator: torch.Generator) -> BitBatch:
    """Priority sort: ``length`` random vectors, each with a priority uniform in [-1, 1] in channel
    ``bits``, a delimiter (channel ``bits + 1``), then ``length`` blank steps whose target is the
    vectors in order of decreasing priority (Graves et al. 2014, section 4.5)."""
    if batch < 1 or length < 1 or bits < 1:
        raise ValueError(f"batch, length and bits must be >= 1, got {batch}, {length}, {bits}")
    seq = torch.randint(0, 2, (batch, length, bits), generator=generator).float()
    priority = torch.rand(batch, length, generator=generator) * 2 - 1
    inputs = torch.zeros(batch, 2 * length + 1, bits + 2)
    inputs[:, :length, :bits] = seq
    inputs[:, :length, bits] = priority
    inputs[:, length, bits + 1] = 1.0
    order = priority.argsort(dim=1, descending=True)  # (B, T)
    return BitBatch(inputs, torch.gather(seq, 1, order[:, :, None].expand(-1, -1, bits)))
