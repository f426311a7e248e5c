"""Tests for nets/rnn.py: the character language model's shapes, carried state and gradient flow,
its config and vocabulary errors, sampling, hand-computed bits per character, and a short run
that learns a repeating string. The autoencoders and GANs are in tests/test_nets_generative.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nets.rnn import CharLM, CharLMConfig, Vocabulary, bits_per_char, sample
from nets_checks import assert_grads_flow as _assert_grads_flow

CELLS = ["rnn", "gru", "lstm"]


# ---------------------------------------------------------------- rnn


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_charlm_shapes_and_state_carries_over(cell: str, layer_norm: bool, layers: int) -> None:
    torch.manual_seed(0)
    cfg = CharLMConfig(vocab_size=11, embedding=6, hidden=10, layers=layers, cell=cell, layer_norm=layer_norm)
    model = CharLM(cfg).eval()
    tokens = torch.randint(0, 11, (3, 7))
    logits, state = model(tokens)
    assert logits.shape == (3, 7, 11)
    parts = state if cell == "lstm" else (state,)
    assert len(parts) == (2 if cell == "lstm" else 1)
    assert all(s.shape == (layers, 3, 10) for s in parts)
    # Running in two chunks with the state handed over equals one pass over the whole sequence.
    first, mid = model(tokens[:, :4])
    second, _ = model(tokens[:, 4:], mid)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)
    if layer_norm:
        assert sum(isinstance(m, nn.LayerNorm) for m in model.modules()) == layers


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layer_norm", [False, True])
def test_charlm_gradients_reach_every_parameter(cell: str, layer_norm: bool) -> None:
    torch.manual_seed(0)
    cfg = CharLMConfig(
        vocab_size=5, embedding=4, hidden=8, layers=2, cell=cell, layer_norm=layer_norm, dropout=0.1
    )
    model = CharLM(cfg)
    tokens = torch.randint(0, 5, (4, 6))
    logits, _ = model(tokens[:, :-1])
    bits_per_char(logits, tokens[:, 1:]).backward()
    _assert_grads_flow(model)


def test_charlm_config_validation() -> None:
    with pytest.raises(ValueError, match="cell"):
        CharLMConfig(vocab_size=5, cell="transformer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropout"):
        CharLMConfig(vocab_size=5, dropout=1.0)
    with pytest.raises(ValueError, match="vocab_size"):
        CharLMConfig(vocab_size=0)


def test_vocabulary_round_trip_and_errors() -> None:
    text = "hello, world\n"
    vocab = Vocabulary.from_text(text)
    assert vocab.chars == tuple(sorted(set(text)))
    assert vocab.size == len(set(text))
    ids = vocab.encode(text)
    assert ids.dtype == torch.long and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    with pytest.raises(ValueError, match="not in the vocabulary.*'z'"):
        vocab.encode("hello z")
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode(torch.tensor([0, vocab.size]))
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(("a", "a"))


def _tiny_lm(cell: str = "lstm") -> CharLM:
    torch.manual_seed(0)
    return CharLM(CharLMConfig(vocab_size=7, embedding=5, hidden=12, layers=1, cell=cell))


def test_sample_length_prefix_and_determinism() -> None:
    model = _tiny_lm()
    prompt = torch.tensor([1, 2, 3])
    out = sample(model, prompt, length=20, generator=torch.Generator().manual_seed(3))
    assert out.shape == (23,) and out.dtype == torch.long
    assert torch.equal(out[:3], prompt)
    assert ((out >= 0) & (out < 7)).all()
    again = sample(model, prompt, length=20, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, again)
    other = sample(model, prompt, length=20, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(out, other)  # 20 draws from near-uniform logits: a collision is ~7^-20
    assert sample(model, prompt, length=0).shape == (3,)
    assert model.training  # mode restored


@pytest.mark.parametrize("cell", CELLS)
def test_sample_temperature_zero_is_greedy(cell: str) -> None:
    model = _tiny_lm(cell).eval()
    out = sample(model, torch.tensor([0, 4]), length=8, temperature=0.0)
    # Reference: re-run the whole prefix from scratch each step and take the argmax.
    seq = [0, 4]
    for _ in range(8):
        logits, _ = model(torch.tensor([seq]))
        seq.append(int(logits[0, -1].argmax()))
    assert out.tolist() == seq


@pytest.mark.parametrize("temperature", [-0.1, float("nan"), float("inf")])
def test_sample_rejects_bad_temperature(temperature: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        sample(_tiny_lm(), torch.tensor([0]), length=3, temperature=temperature)


def test_bits_per_char_hand_values() -> None:
    for v in (2, 7, 64):
        uniform = torch.zeros(3, 5, v)
        targets = torch.randint(0, v, (3, 5))
        assert bits_per_char(uniform, targets).item() == pytest.approx(math.log2(v))
    # p(target) = 1/2 for one position and 1/4 for the other: mean of 1 and 2 bits.
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]))
    assert bits_per_char(logits, torch.tensor([0, 1])).item() == pytest.approx(1.5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_charlm_learns_a_repeating_string(cell: str) -> None:
    vocab = Vocabulary.from_text("abcdefgh ")
    ids = vocab.encode("abcdefgh " * 12)
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size=vocab.size, embedding=8, hidden=32, layers=1, cell=cell))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    windows = torch.stack([ids[i : i + 25] for i in range(0, len(ids) - 25, 3)])  # (B, 25)
    for _ in range(100):
        logits, _ = model(windows[:, :-1])
        loss = bits_per_char(logits, windows[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * math.log2(vocab.size)
    text = vocab.decode(sample(model, vocab.encode("abc"), length=15, temperature=0.0))
    assert text == "abcdefgh abcdefgh "
