"""Checkpoints: safetensors + JSON sidecar round trips, atomic writes, clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from arena.io.checkpoint import CheckpointError, load_checkpoint, load_weights, read_sidecar, save_checkpoint


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    model = _model().eval()
    path = save_checkpoint(tmp_path / "m", model, {"config": {"hidden": 8}, "step": 7})
    assert path.suffix == ".safetensors" and path.with_suffix(".json").exists()
    tensors, meta = load_checkpoint(path)
    assert meta["step"] == 7 and meta["config"] == {"hidden": 8} and meta["format"] == "arena-checkpoint"
    twin = load_weights(_model_fresh(), tensors).eval()
    x = torch.randn(5, 4)
    assert torch.equal(model(x), twin(x))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def _model_fresh() -> nn.Module:
    torch.manual_seed(1)  # different initial weights: loading must overwrite all of them
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_missing_sidecar(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m", _model(), {})
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(path)


def test_corrupt_weights(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m", _model(), {})
    path.write_bytes(b"\x00garbage, not safetensors" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(path)


def test_truncated_weights(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m", _model(), {})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_foreign_sidecar_and_bad_json(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m", _model(), {})
    side = path.with_suffix(".json")
    side.write_text(json.dumps({"something": "else"}))
    with pytest.raises(CheckpointError, match="not an Arena checkpoint"):
        read_sidecar(path)
    side.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)


def test_pickle_file_is_refused_not_unpickled(tmp_path: Path) -> None:
    """A torch.save (pickle) file dressed as a checkpoint is rejected without running it."""
    path = tmp_path / "evil.safetensors"
    torch.save({"weight": torch.zeros(2)}, path)
    path.with_suffix(".json").write_text(json.dumps({"format": "arena-checkpoint", "version": 1}))
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(path)


def test_mismatched_model_is_a_clear_error(tmp_path: Path) -> None:
    tensors, _ = load_checkpoint(save_checkpoint(tmp_path / "m", _model(), {}))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(nn.Sequential(nn.Linear(4, 9)), tensors)


def test_newer_version_refused(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m", _model(), {})
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["version"] = 99
    side.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.safetensors")
