"""Checkpoints on disk: safetensors weights beside a JSON sidecar, written atomically.

``save_checkpoint(path, model, meta)`` writes ``path`` (``.safetensors``) and ``path`` with
``.json`` (the sidecar: a format marker, the architecture config, and whatever the caller adds:
game, algorithm, step, metrics). Both are written to temporary files first and renamed into
place, so an interrupted write never leaves a half checkpoint. Loading never unpickles: a
foreign, corrupt or mismatched file gives :class:`CheckpointError` saying what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from agents import common
from arena.io.files import write_atomic, write_text_atomic

T = TypeVar("T")
FORMAT = "arena-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason."""


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar beside weights ``x.safetensors``: ``x.json``."""
    return Path(path).with_suffix(".json")


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``model``'s weights to ``path`` (.safetensors) and ``meta`` to the sidecar, atomically."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sidecar = {"format": FORMAT, "version": VERSION, **meta, "tensors": len(tensors)}
    text = json.dumps(sidecar, indent=2, default=_jsonable)
    write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    write_text_atomic(sidecar_path(path), text)
    return path


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar of a checkpoint, validated (format marker and version)."""
    side = sidecar_path(path)
    if not side.exists():
        raise CheckpointError(f"{side} is missing: an Arena checkpoint is a .safetensors file with a .json beside it")
    try:
        meta = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{side} is not valid JSON ({e}); the checkpoint is corrupt") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{side} is not an Arena checkpoint sidecar (no \"format\": \"{FORMAT}\")")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{side} has format version {meta['version']}; this Arena reads up to {VERSION}")
    return meta


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights (CPU tensors) and the sidecar of a checkpoint; never unpickles anything."""
    path = Path(path)
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    meta = read_sidecar(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file ({e}); it may be corrupt or foreign") from None
    if len(tensors) != meta.get("tensors", len(tensors)):
        raise CheckpointError(f"{path} holds {len(tensors)} tensors, its sidecar says {meta['tensors']}")
    return tensors, meta


def load_weights(model: nn.Module, tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """Load ``tensors`` into ``model`` strictly, turning mismatches into a CheckpointError."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        details = "; ".join(filter(None, [
            f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
            f"shape differs for {wrong[:3]}" if wrong else "",
        ]))
        raise CheckpointError(f"{source} does not fit this model: {details}")
    model.load_state_dict(tensors)
    return model


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> Path:
    """Write named tensors (optimizer state, a replay buffer) as one safetensors file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    write_atomic(path, lambda tmp: save_file(cpu, tmp, metadata={"format": FORMAT}))
    return path


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a file written by :func:`save_tensors` (never unpickles)."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file ({e}); it may be corrupt or foreign") from None


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """An optimizer's per-parameter state as flat named tensors (``state.<i>.<name>``)."""
    return common.optimizer_tensors(optimizer, "state.")


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`optimizer_tensors` (hyperparameters come from the optimizer as built)."""
    try:
        common.load_optimizer_tensors(optimizer, tensors, "state.")
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"the optimizer state does not fit this model: {e}") from None


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) frozen config dataclass from its sidecar JSON: lists become tuples,
    nested dicts become the field's dataclass; unknown keys are a CheckpointError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(f"the checkpoint's {cls.__name__} has unknown fields {unknown}")
    values = {}
    for name, value in data.items():
        kind = hints[name]
        if isinstance(value, dict) and dataclasses.is_dataclass(kind):
            value = config_from_dict(kind, value)  # type: ignore[arg-type]
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"the checkpoint's {cls.__name__} is invalid: {e}") from None


def _jsonable(value: Any) -> Any:
    """JSON fallback for sidecars: paths and tuples as text/lists, tensors as numbers."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint sidecar")
