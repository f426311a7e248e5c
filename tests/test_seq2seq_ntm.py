"""seq2seq and NTM (issue 8): module shapes and gradients, attention that sums to 1, the NTM's
addressing math on hand-checked cases, seeded and correct task generators, and ``--quick`` runs
that write their run folder, learn, and reload from the checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from arena.supervised.common import Common
from arena.supervised.ntm import NtmCommand, load_ntm
from arena.supervised.seq2seq import Seq2SeqCommand, load_seq2seq
from nets.data import (
    DIGIT0, EOS, SOS, VOCAB_SIZE, add_digits, copy_task, decode_tokens, make_task, priority_sort_task,
)
from nets.ntm import (
    NTM, LSTMBaseline, LSTMBaselineConfig, NTMConfig, address, bit_errors, circular_shift, content_weights,
    lstm_hidden_for, read_memory, sharpen, write_memory,
)
from nets.seq2seq import AdditiveAttention, GeneralAttention, Seq2Seq, Seq2SeqConfig, greedy_decode, teacher_input
from nets.supervised.ntm import logits_of


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- seq2seq ---------------------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_seq2seq_shapes_gradients_and_attention_sums_to_one(attention: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(embedding=8, hidden=12, attention=attention, bidirectional=bidirectional))
    data = make_task("addition", 5, 3, _gen())  # source 7 tokens, target 5
    out = model(data.source, teacher_input(data.target))
    assert out.logits.shape == (5, 5, VOCAB_SIZE)
    loss = F.cross_entropy(out.logits.reshape(-1, VOCAB_SIZE), data.target.reshape(-1))
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), [n for n, g in grads.items() if g is None]
    assert sum(float(g.abs().sum()) for g in grads.values()) > 0
    decoded = greedy_decode(model, data.source, steps=7)
    assert decoded.logits.shape == (5, 7, VOCAB_SIZE)
    if attention == "none":
        assert out.attention is None and decoded.attention is None
    else:
        assert out.attention.shape == (5, 5, 7) and decoded.attention.shape == (5, 7, 7)
        torch.testing.assert_close(out.attention.sum(-1), torch.ones(5, 5))
        assert (out.attention >= 0).all()


def test_attention_modules_weights_and_context() -> None:
    torch.manual_seed(0)
    keys = torch.randn(3, 6, 10)
    for attn in (AdditiveAttention(4, 10, 5), GeneralAttention(4, 10)):
        context, w = attn(torch.randn(3, 4), keys)
        assert context.shape == (3, 10) and w.shape == (3, 6)
        torch.testing.assert_close(w.sum(-1), torch.ones(3))
        torch.testing.assert_close(context, torch.einsum("bs,bsd->bd", w, keys))


def test_greedy_decoding_feeds_back_its_own_argmax() -> None:
    torch.manual_seed(1)
    model = Seq2Seq(Seq2SeqConfig(embedding=8, hidden=12, attention="luong")).eval()
    source = make_task("reverse", 2, 4, _gen()).source
    decoded = greedy_decode(model, source, steps=5)
    tokens = decoded.logits.argmax(-1)
    # Teacher forcing with the greedy tokens as targets reproduces the greedy logits.
    forced = model(source, teacher_input(tokens)).logits
    torch.testing.assert_close(forced, decoded.logits)


def test_task_generators_are_seeded_and_correct() -> None:
    for task in ("reverse", "sort", "addition"):
        a, b = make_task(task, 20, 6, _gen(3)), make_task(task, 20, 6, _gen(3))
        assert torch.equal(a.source, b.source) and torch.equal(a.target, b.target)
        assert not torch.equal(a.source, make_task(task, 20, 6, _gen(4)).source)
        assert (a.target[:, -1] == EOS).all()
    rev = make_task("reverse", 50, 7, _gen())
    assert torch.equal(rev.target[:, :-1], rev.source.flip(1))
    srt = make_task("sort", 50, 7, _gen())
    assert torch.equal(srt.target[:, :-1], srt.source.sort(1).values)
    add = make_task("addition", 50, 4, _gen())
    for src, tgt in zip(add.source, add.target, strict=True):
        left, right = decode_tokens(src).split("+")  # least significant digit first
        assert decode_tokens(tgt) == f"{int(left[::-1]) + int(right[::-1]):05d}"[::-1] + "$"
    assert decode_tokens(torch.tensor([SOS, DIGIT0 + 3, EOS])) == "^3$"
    assert add_digits(torch.tensor([[9, 9]]), torch.tensor([[0, 1]])).tolist() == [[1, 0, 0]]


# ---- NTM addressing math ---------------------------------------------------------------------


def test_content_weights_are_softmax_of_strength_times_cosine() -> None:
    memory = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])  # (1, 3, 2)
    key = torch.tensor([[[3.0, 0.0]]])  # cosines with the rows: 1, 0, 1/sqrt(2)
    w = content_weights(memory, key, torch.tensor([[2.0]]))
    e = torch.exp(torch.tensor([2.0, 0.0, 2.0 / math.sqrt(2.0)]))
    torch.testing.assert_close(w[0, 0], e / e.sum())
    uniform = content_weights(memory, key, torch.tensor([[0.0]]))
    torch.testing.assert_close(uniform, torch.full((1, 1, 3), 1 / 3))


def test_circular_shift_moves_and_wraps() -> None:
    w = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0]])
    forward = torch.tensor([[0.0, 0.0, 1.0]])  # all mass on shift +1
    torch.testing.assert_close(circular_shift(w, forward), torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]]))
    last = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    torch.testing.assert_close(circular_shift(last, forward), torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]]))  # wraps
    first = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]])
    backward = torch.tensor([[1.0, 0.0, 0.0]])
    torch.testing.assert_close(circular_shift(first, backward), last)  # -1 wraps the other way
    blur = torch.tensor([[0.25, 0.5, 0.25]])
    torch.testing.assert_close(circular_shift(w, blur), torch.tensor([[0.25, 0.5, 0.25, 0.0, 0.0]]))


def test_sharpen_and_address() -> None:
    w = torch.tensor([[0.5, 0.25, 0.25]])
    torch.testing.assert_close(sharpen(w, torch.tensor([2.0])), torch.tensor([[4.0, 1.0, 1.0]]) / 6, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(sharpen(w, torch.tensor([1.0])), w)
    # Gate 0: content is ignored; the previous weighting is shifted by +1 and sharpened.
    memory = torch.randn(1, 4, 3)
    previous = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    out = address(memory, previous, torch.randn(1, 1, 3), torch.tensor([[5.0]]), torch.tensor([[0.0]]),
                  torch.tensor([[[0.0, 0.0, 1.0]]]), torch.tensor([[1.0]]))
    torch.testing.assert_close(out, torch.tensor([[[0.0, 0.0, 1.0, 0.0]]]), atol=1e-6, rtol=0)


def test_erase_add_write_and_read() -> None:
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    w = torch.tensor([[0.5, 0.0]])
    erase, add = torch.tensor([[1.0, 0.0]]), torch.tensor([[10.0, 20.0]])
    # Row 0: [1 * (1 - 0.5), 2 * (1 - 0)] + 0.5 * [10, 20] = [5.5, 12]; row 1 untouched.
    torch.testing.assert_close(write_memory(memory, w, erase, add), torch.tensor([[[5.5, 12.0], [3.0, 4.0]]]))
    torch.testing.assert_close(read_memory(memory, torch.tensor([[[0.25, 0.75]]])), torch.tensor([[[2.5, 3.5]]]))


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_ntm_shapes_gradients_and_weightings(controller: str) -> None:
    torch.manual_seed(0)
    cfg = NTMConfig(input_size=5, output_size=4, controller=controller, controller_size=16, memory_slots=8,
                    memory_width=6, read_heads=2)
    model = NTM(cfg)
    data = copy_task(3, 4, 4, _gen())
    out = model(data.inputs)
    assert out.logits.shape == (3, 9, 4) and out.read_weights.shape == (3, 9, 2, 8) and out.write_weights.shape == (3, 9, 8)
    torch.testing.assert_close(out.read_weights.sum(-1), torch.ones(3, 9, 2))
    torch.testing.assert_close(out.write_weights.sum(-1), torch.ones(3, 9))
    F.binary_cross_entropy_with_logits(out.logits[:, 5:], data.targets).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    lstm = LSTMBaseline(LSTMBaselineConfig(5, 4, hidden=lstm_hidden_for(5000, 5, 4)))
    assert logits_of(lstm, data.inputs).shape == (3, 9, 4)
    assert abs(sum(p.numel() for p in lstm.parameters()) - 5000) < 200


def test_bit_task_generators_are_seeded_and_correct() -> None:
    c1, c2 = copy_task(4, 5, 8, _gen(7)), copy_task(4, 5, 8, _gen(7))
    assert torch.equal(c1.inputs, c2.inputs) and c1.inputs.shape == (4, 11, 9) and c1.targets.shape == (4, 5, 8)
    assert torch.equal(c1.inputs[:, :5, :8], c1.targets) and (c1.inputs[:, 5, 8] == 1).all()
    assert c1.inputs[:, 6:].abs().sum() == 0 and c1.inputs[:, :5, 8].abs().sum() == 0
    s = priority_sort_task(4, 6, 3, _gen(1))
    assert s.inputs.shape == (4, 13, 5) and torch.equal(s.inputs, priority_sort_task(4, 6, 3, _gen(1)).inputs)
    for b in range(4):
        priorities = s.inputs[b, :6, 3].tolist()
        order = sorted(range(6), key=lambda i: -priorities[i])
        assert torch.equal(s.targets[b], s.inputs[b, order, :3])
    assert bit_errors(torch.tensor([[[5.0, -5.0], [5.0, 5.0]]]), torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])).tolist() == [2.0]


# ---- the arena scripts -------------------------------------------------------------------------


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_seq2seq_quick_run_folder_and_checkpoint(tmp_path: Path) -> None:
    run = Seq2SeqCommand(common=Common(quick=True, run_dir=tmp_path / "s2s", progress=False)).run()
    metrics = json.loads((run / "metrics.json").read_text())
    table = metrics["table"]["reverse"]
    assert set(table) == {"none", "bahdanau"} and set(table["none"]) == {"3", "6", "9"}
    assert 0 <= metrics["test_sequence_accuracy_reverse_bahdanau"] <= metrics["test_token_accuracy_reverse_bahdanau"] <= 1
    for attention in ("none", "bahdanau"):
        rows = [r for r in _rows(run) if r["attention"] == attention]
        assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learned
    for name in ("accuracy_vs_length", "attention_reverse_bahdanau", "learning_curves"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 1000
    models, task = load_seq2seq(run / "model.safetensors")
    data = make_task("reverse", 4, 5, _gen())
    logits = greedy_decode(models["reverse_bahdanau"], data.source, 6).logits
    assert task.tasks == ("reverse",) and torch.isfinite(logits).all()


def test_ntm_quick_run_folder_and_checkpoint(tmp_path: Path) -> None:
    run = NtmCommand(common=Common(quick=True, run_dir=tmp_path / "ntm", progress=False)).run()
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("test_bit_error", "lstm_test_bit_error", "test_bit_error_long", "lstm_test_bit_error_long"):
        assert 0 <= metrics[key] <= 4 * 8
    for kind in ("ntm", "lstm"):
        rows = [r for r in _rows(run) if r["model"] == kind]
        assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learned
    for name in ("learning_curves", "memory_copy", "example_copy"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 1000
    models, task = load_ntm(run / "model.safetensors")
    data = copy_task(2, 3, task.bits, _gen())
    out = models["ntm_copy"](data.inputs)
    assert out.logits.shape == (2, 7, task.bits)
    # The reloaded NTM scores exactly what the run reported.
    from nets.supervised.ntm import score

    n = task.test_lengths[0]
    again = score(models["ntm_copy"], "copy", n, task.bits, task.test_examples, seed=10_000 + task.train.seed)
    assert again == pytest.approx(metrics["test_bit_error"])


@pytest.mark.slow
def test_ntm_copies_and_generalizes_where_the_lstm_does_not(tmp_path: Path) -> None:
    """Default copy run (45 s on a quiet core, 4 minutes on a busy machine): the NTM copies
    length 10 and 20 almost perfectly; the LSTM of the same size does not."""
    run = NtmCommand(common=Common(run_dir=tmp_path / "ntm", progress=False)).run()
    m = json.loads((run / "metrics.json").read_text())
    assert m["test_bit_error"] < 0.5 and m["test_bit_error_long"] < 2.0
    assert m["lstm_test_bit_error"] > 5 * max(m["test_bit_error"], 1.0)


@pytest.mark.slow
def test_attention_helps_reverse_and_addition(tmp_path: Path) -> None:
    """Default seq2seq run (about 3 minutes on a quiet core)."""
    run = Seq2SeqCommand(common=Common(run_dir=tmp_path / "s2s", progress=False)).run()
    m = json.loads((run / "metrics.json").read_text())
    assert m["test_sequence_accuracy_reverse_bahdanau"] > m["test_sequence_accuracy_reverse_none"] + 0.05
    assert m["test_sequence_accuracy_addition_bahdanau"] > m["test_sequence_accuracy_addition_none"] + 0.5
    assert m["test_sequence_accuracy_sort_bahdanau"] > 0.95
