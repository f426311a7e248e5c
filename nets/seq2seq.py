"""Encoder-decoder LSTMs with optional attention, and the generated tasks they learn.

``Seq2Seq`` reads a source sequence with an LSTM encoder (bidirectional by default) and writes
the target with an ``nn.LSTMCell`` decoder started from the encoder's final state (Sutskever et
al. 2014, "Sequence to Sequence Learning with Neural Networks"). Attention is one of:

- ``none``: the decoder sees the source only through the encoder's final state;
- ``bahdanau``: additive attention queried with the previous decoder state, whose context is
  fed to the LSTM and to the output layer (Bahdanau et al. 2015, "Neural Machine Translation by
  Jointly Learning to Align and Translate");
- ``luong``: multiplicative ("general") attention queried with the new decoder state, an
  attentional vector ``tanh(W_c [c; h])`` for the output, fed back as input at the next step
  (Luong et al. 2015, "Effective Approaches to Attention-based Neural Machine Translation").

Training uses teacher forcing (``forward``); ``greedy_decode`` feeds the model its own argmax.
The tasks it learns and their tokens are generated data, in nets/data.py (``make_task``): every
target ends with ``EOS`` and the decoder's first input is ``SOS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from nets.data import SOS, VOCAB_SIZE

AttentionKind = Literal["none", "bahdanau", "luong"]

@dataclass(frozen=True)
class Seq2SeqConfig:
    """Shape of an encoder-decoder LSTM."""

    vocab_size: int = VOCAB_SIZE
    """Tokens shared by source and target (one embedding table)."""
    embedding: int = 32
    """Token embedding width."""
    hidden: int = 128
    """Decoder LSTM width; also the encoder's output width (split over directions if bidirectional)."""
    attention: AttentionKind = "bahdanau"
    """none, bahdanau (additive, previous state as query) or luong (general, current state)."""
    bidirectional: bool = True
    """Read the source both ways (each direction hidden // 2 units)."""

    def __post_init__(self) -> None:
        if self.attention not in ("none", "bahdanau", "luong"):
            raise ValueError(f"attention must be none, bahdanau or luong, got {self.attention!r}")
        for name in ("vocab_size", "embedding", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.bidirectional and self.hidden % 2:
            raise ValueError(f"a bidirectional encoder needs an even hidden size, got {self.hidden}")


class Seq2SeqOutput(NamedTuple):
    """Logits ``[B, T, V]`` and attention weights ``[B, T, S]`` (``None`` without attention)."""

    logits: Tensor
    attention: Tensor | None


class AdditiveAttention(nn.Module):
    """``score_j = v . tanh(W q + U k_j)``; returns ``(context [B, D], weights [B, S])``."""

    def __init__(self, query: int, keys: int, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(query, hidden, bias=False)
        self.keys = nn.Linear(keys, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, q: Tensor, keys: Tensor, projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``q [B, Q]``, ``keys [B, S, D]`` (``projected_keys``: ``self.keys(keys)``, cached per sequence)."""
        pk = self.keys(keys) if projected_keys is None else projected_keys  # (B, S, A)
        scores = self.v(torch.tanh(pk + self.query(q)[:, None])).squeeze(-1)  # (B, S)
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights[:, None], keys).squeeze(1), weights  # (B, D), (B, S)


class GeneralAttention(nn.Module):
    """Luong's ``general`` score ``score_j = k_j . (W q)``; returns ``(context [B, D], weights [B, S])``."""

    def __init__(self, query: int, keys: int) -> None:
        super().__init__()
        self.w = nn.Linear(query, keys, bias=False)

    def forward(self, q: Tensor, keys: Tensor, projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        scores = torch.bmm(keys, self.w(q)[:, :, None]).squeeze(-1)  # (B, S)
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights[:, None], keys).squeeze(1), weights  # (B, D), (B, S)


class Seq2Seq(nn.Module):
    """Embedding -> LSTM encoder -> LSTMCell decoder (+ attention) -> linear head over tokens."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        H, E = cfg.hidden, cfg.embedding
        self.embed = nn.Embedding(cfg.vocab_size, E)
        self.encoder = nn.LSTM(E, H // 2 if cfg.bidirectional else H, batch_first=True,
                               bidirectional=cfg.bidirectional)
        self.attn: nn.Module | None = None
        if cfg.attention == "bahdanau":
            self.attn = AdditiveAttention(H, H, H)
            self.decoder = nn.LSTMCell(E + H, H)
            self.head = nn.Linear(2 * H, cfg.vocab_size)
        elif cfg.attention == "luong":
            self.attn = GeneralAttention(H, H)
            self.combine = nn.Linear(2 * H, H)
            self.decoder = nn.LSTMCell(E + H, H)  # input feeding: the previous attentional vector
            self.head = nn.Linear(H, cfg.vocab_size)
        else:
            self.decoder = nn.LSTMCell(E, H)
            self.head = nn.Linear(H, cfg.vocab_size)

    def encode(self, source: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``source [B, S]`` -> encoder outputs ``[B, S, H]`` and the decoder's initial ``(h, c)``, ``[B, H]`` each."""
        if source.dim() != 2 or source.shape[1] < 1:
            raise ValueError(f"source must be [B, S] with S >= 1, got shape {tuple(source.shape)}")
        outputs, (h, c) = self.encoder(self.embed(source))  # (B, S, H), (D, B, H / D)
        h = torch.cat(list(h), dim=-1)  # (B, H): forward and backward final states side by side
        c = torch.cat(list(c), dim=-1)  # (B, H)
        return outputs, (h, c)

    def forward(self, source: Tensor, decoder_input: Tensor) -> Seq2SeqOutput:
        """Teacher forcing: ``decoder_input [B, T]`` is ``SOS`` then the target without its last token.

        Returns logits ``[B, T, V]`` (position ``t`` predicts target token ``t``) and the attention
        weights ``[B, T, S]`` (``None`` without attention).
        """
        keys, state = self.encode(source)
        cache = self._start(keys, state)
        logits, weights = [], []
        for t in range(decoder_input.shape[1]):
            step_logits, cache, w = self._step(decoder_input[:, t], keys, cache)
            logits.append(step_logits)
            weights.append(w)
        attention = torch.stack(weights, dim=1) if self.attn is not None else None  # (B, T, S)
        return Seq2SeqOutput(torch.stack(logits, dim=1), attention)

    def _start(self, keys: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, ...]:
        """Decoder cache: ``(h, c, feed, projected_keys)``; feed is the last attentional vector (luong)."""
        h, c = state
        projected = self.attn.keys(keys) if isinstance(self.attn, AdditiveAttention) else keys
        return h, c, torch.zeros_like(h), projected

    def _step(
        self, token: Tensor, keys: Tensor, cache: tuple[Tensor, ...],
    ) -> tuple[Tensor, tuple[Tensor, ...], Tensor | None]:
        """One decoder step from input tokens ``[B]``: logits ``[B, V]``, the new cache, weights ``[B, S]``."""
        h, c, feed, projected = cache
        x = self.embed(token)  # (B, E)
        if self.cfg.attention == "bahdanau":
            context, w = self.attn(h, keys, projected)  # query: the previous decoder state
            h, c = self.decoder(torch.cat([x, context], -1), (h, c))
            return self.head(torch.cat([h, context], -1)), (h, c, feed, projected), w
        if self.cfg.attention == "luong":
            h, c = self.decoder(torch.cat([x, feed], -1), (h, c))
            context, w = self.attn(h, keys)  # query: the current decoder state
            feed = torch.tanh(self.combine(torch.cat([context, h], -1)))  # (B, H)
            return self.head(feed), (h, c, feed, projected), w
        h, c = self.decoder(x, (h, c))
        return self.head(h), (h, c, feed, projected), None


@torch.no_grad()
def greedy_decode(model: Seq2Seq, source: Tensor, steps: int) -> Seq2SeqOutput:
    """Decode ``steps`` tokens, each step fed the previous argmax (the first ``SOS``).

    Returns the logits ``[B, steps, V]`` and attention ``[B, steps, S]`` (or ``None``); the
    predicted tokens are ``logits.argmax(-1)``. Decoding does not stop at ``EOS``: callers compare
    a fixed number of positions. The model's train/eval mode is left as it was.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    keys, state = model.encode(source)
    cache = model._start(keys, state)
    token = torch.full((source.shape[0],), SOS, dtype=torch.long, device=source.device)
    logits, weights = [], []
    for _ in range(steps):
        step_logits, cache, w = model._step(token, keys, cache)
        token = step_logits.argmax(-1)
        logits.append(step_logits)
        weights.append(w)
    attention = torch.stack(weights, dim=1) if model.attn is not None else None
    return Seq2SeqOutput(torch.stack(logits, dim=1), attention)


def teacher_input(target: Tensor) -> Tensor:
    """``SOS`` followed by ``target [B, T]`` without its last token: the decoder's input ``[B, T]``."""
    sos = torch.full_like(target[:, :1], SOS)
    return torch.cat([sos, target[:, :-1]], dim=1)
