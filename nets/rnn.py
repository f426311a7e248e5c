"""Character-level recurrent language model: vocabulary, model, sampling and bits per character.

``CharLM`` is embedding -> torch's own ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (batch first) -> a
linear head over the vocabulary (Karpathy's char-rnn; Graves 2013, "Generating Sequences With
Recurrent Neural Networks"). With ``layer_norm=True`` the layers are single-layer torch RNNs
stacked by hand, with ``nn.LayerNorm`` on each layer's outputs (Ba et al. 2016, "Layer
Normalization", applied between layers so torch's fused cells are kept).

The recurrent state has torch's layout either way: ``h [L, B, H]`` for rnn/gru and
``(h, c)`` with both ``[L, B, H]`` for lstm, so a state from one variant fits the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

CellKind = Literal["rnn", "gru", "lstm"]
RNNState = Tensor | tuple[Tensor, Tensor]
"""``h [L, B, H]`` for rnn/gru; ``(h, c)``, both ``[L, B, H]``, for lstm."""

_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@dataclass(frozen=True)
class Vocabulary:
    """A fixed character set; a character's index is its position in ``chars``."""

    chars: tuple[str, ...]
    """The distinct single characters, in index order."""

    def __post_init__(self) -> None:
        if len(self.chars) == 0:
            raise ValueError("Vocabulary needs at least one character")
        bad = [c for c in self.chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"Vocabulary chars must be single characters, got {bad[:5]!r}")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("Vocabulary chars must be distinct")

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The sorted set of characters that occur in ``text``."""
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        """Number of characters (the model's ``vocab_size``)."""
        return len(self.chars)

    @cached_property
    def _index(self) -> dict[str, int]:
        # cached_property writes the instance __dict__ directly, so it works on a frozen dataclass.
        return {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> Tensor:
        """Map a string to indices.

        Returns:
            Long tensor ``[len(text)]``.

        Raises:
            ValueError: naming the characters that are not in the vocabulary.
        """
        index = self._index
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            raise ValueError(
                f"characters not in the vocabulary: {unknown[:10]!r}; build the vocabulary from text "
                "that contains them (Vocabulary.from_text) or filter the input first"
            )
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, tokens: Tensor) -> str:
        """Map indices ``[T]`` (any integer dtype, any device) back to a string."""
        if tokens.dim() != 1:
            raise ValueError(f"decode expects a 1-D tensor of indices, got shape {tuple(tokens.shape)}")
        ids = tokens.tolist()
        bad = [i for i in ids if not 0 <= i < len(self.chars)]
        if bad:
            raise ValueError(f"indices out of range [0, {len(self.chars)}): {bad[:10]}")
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class CharLMConfig:
    """Shape of a character-level recurrent language model."""

    vocab_size: int
    """Number of distinct tokens (``Vocabulary.size``)."""
    embedding: int = 64
    """Width of the token embedding fed to the first recurrent layer."""
    hidden: int = 256
    """Hidden units per recurrent layer."""
    layers: int = 2
    """Number of stacked recurrent layers."""
    cell: CellKind = "lstm"
    """Recurrent cell: plain tanh RNN, GRU or LSTM (torch's fused implementations)."""
    dropout: float = 0.0
    """Dropout probability on every recurrent layer's outputs (so also before the head)."""
    layer_norm: bool = False
    """Stack single-layer RNNs and apply LayerNorm to each layer's outputs."""

    def __post_init__(self) -> None:
        if self.cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {self.cell!r}")
        for name in ("vocab_size", "embedding", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class CharLM(nn.Module):
    """Embedding -> recurrent layers -> linear head over the vocabulary."""

    def __init__(self, cfg: CharLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embedding)
        cell = _CELLS[cfg.cell]
        if cfg.layer_norm:
            self.rnns = nn.ModuleList(
                cell(cfg.embedding if i == 0 else cfg.hidden, cfg.hidden, batch_first=True)
                for i in range(cfg.layers)
            )
            self.norms = nn.ModuleList(nn.LayerNorm(cfg.hidden) for _ in range(cfg.layers))
        else:
            # torch adds its dropout between layers only; self.drop covers the last layer's output.
            inner_dropout = cfg.dropout if cfg.layers > 1 else 0.0
            self.rnn = cell(cfg.embedding, cfg.hidden, cfg.layers, batch_first=True, dropout=inner_dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)

    def forward(self, tokens: Tensor, state: RNNState | None = None) -> tuple[Tensor, RNNState]:
        """Next-token logits for every position.

        Args:
            tokens: long ``[B, T]``.
            state: the state returned by the previous call (``None``: zeros).

        Returns:
            ``(logits [B, T, V], new_state)``; logits at ``t`` predict token ``t + 1``.
        """
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be [B, T], got shape {tuple(tokens.shape)}")
        x = self.embed(tokens)  # (B, T, E)
        if self.cfg.layer_norm:
            x, new_state = self._stacked(x, state)
        else:
            x, new_state = self.rnn(x, state)  # (B, T, H)
            x = self.drop(x)
        return self.head(x), new_state  # (B, T, V)

    def _stacked(self, x: Tensor, state: RNNState | None) -> tuple[Tensor, RNNState]:
        layer_states: list[RNNState] = []
        for i, (rnn, norm) in enumerate(zip(self.rnns, self.norms, strict=True)):
            x, s = rnn(x, None if state is None else _layer_state(state, i))
            x = self.drop(norm(x))  # (B, T, H)
            layer_states.append(s)
        if self.cfg.cell == "lstm":
            h = torch.cat([s[0] for s in layer_states])  # (L, B, H)
            c = torch.cat([s[1] for s in layer_states])  # (L, B, H)
            return x, (h, c)
        return x, torch.cat(layer_states)  # (L, B, H)


@torch.no_grad()
def sample(
    model: CharLM,
    prompt: Tensor,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Continue ``prompt`` by ``length`` sampled tokens, feeding the state forward one token at a time.

    The model runs in eval mode (no dropout) and its previous mode is restored afterwards.

    Args:
        model: the language model.
        prompt: long ``[T0]``, ``T0 >= 1``.
        length: number of tokens to add, ``>= 0``.
        temperature: logits are divided by it before sampling; ``0`` picks the argmax (greedy).
        generator: source of randomness (on the model's device) for reproducible samples.

    Returns:
        Long ``[T0 + length]``: the prompt followed by the sampled tokens, on the model's device.
    """
    if not (temperature >= 0.0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if prompt.dim() != 1 or prompt.numel() == 0:
        raise ValueError(f"prompt must be a non-empty 1-D tensor of token ids, got {tuple(prompt.shape)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        tokens = [prompt.to(device=device, dtype=torch.long)]
        logits, state = model(tokens[0].unsqueeze(0))  # (1, T0, V)
        for _ in range(length):
            last = logits[0, -1]  # (V,)
            if temperature == 0.0:
                nxt = last.argmax().view(1)
            else:
                probs = torch.softmax(last / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            tokens.append(nxt)
            logits, state = model(nxt.view(1, 1), state)  # (1, 1, V)
    finally:
        model.train(was_training)
    return torch.cat(tokens)


def bits_per_char(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy in bits (natural-log cross-entropy divided by ln 2).

    Args:
        logits: ``[..., V]``.
        targets: long ``[...]``, the same leading shape.

    Returns:
        A scalar float tensor (differentiable; ``log2(V)`` for uniform logits).
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} do not match")
    nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return nats / math.log(2.0)


def _layer_state(state: RNNState, i: int) -> RNNState:
    """Layer ``i``'s slice ``[1, B, H]`` of a stacked state ``[L, B, H]`` (both parts for lstm)."""
    if isinstance(state, tuple):
        return state[0][i : i + 1].contiguous(), state[1][i : i + 1].contiguous()
    return state[i : i + 1].contiguous()
