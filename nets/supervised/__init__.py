"""The supervised models of the classic deep-learning curriculum, one module each.

Each module ``nets/supervised/<m>.py`` holds, for its model:

- its task: a frozen config dataclass whose ``quick()`` is the seconds-long version that
  ``--quick`` runs (tests, smoke checks);
- ``train(task, data, callbacks) -> SupervisedResult``: the trained model, headline metrics,
  per-epoch history and the arrays a person would rather look at (sample grids,
  reconstructions). ``data`` is what the model learns from (``nets.data.ImageSplits``,
  ``TextSplits``, or None for the tasks it generates itself); every callback gets an ``EpochLog``,
  whose metrics start with the names of the network a row belongs to when a run trains several;
- ``checkpoints(task, data, result) -> dict[str, Part]``: the modules of a run to save, by file
  stem, each with the sidecar fields that ``build`` reads back;
- ``build(sidecar) -> nn.Module``: the (untrained) module a checkpoint's JSON sidecar describes,
  for its weights to be loaded into, so checkpoints load without pickle.

``arena supervised <model>`` loads the data, shows progress, and writes the run folder; nothing
here touches files.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

import numpy as np
from torch import nn

from nets.train import EpochLog

T = TypeVar("T")

Callback = Callable[[EpochLog], None]
"""Called after every epoch (or evaluation) of ``train``."""


class SupervisedResult(NamedTuple):
    """What every supervised ``train`` returns."""

    model: nn.Module  # one network, or an nn.ModuleDict of the networks a run compares
    metrics: dict[str, Any]  # headline metrics with fixed names (test_accuracy, ...)
    history: list[dict[str, Any]]  # one row per epoch (or evaluation), tagged by network where there are several
    figures: dict[str, np.ndarray]  # named arrays for plots (e.g. images [n, H, W] in [0, 1])
    artifacts: Mapping[str, Any] = MappingProxyType({})  # what is neither a metric nor an array (texts, vocabularies)


class Part(NamedTuple):
    """One checkpoint of a run: the module and the fields of its sidecar (besides the metrics
    and what arena adds: kind, model, dataset). A ``metrics`` field replaces the run's metrics."""

    module: nn.Module
    sidecar: dict[str, Any]


def tagged(callbacks: Sequence[Callback], **tags: Any) -> list[Callback]:
    """``callbacks`` that see every row with ``tags`` in front (``variant="deep", code=8``), so
    the rows of the several networks of one run say whose they are."""
    def tag(callback: Callback) -> Callback:
        return lambda log: callback(log._replace(metrics={**tags, **log.metrics}))

    return [tag(cb) for cb in callbacks]


def from_sidecar(cls: type[T], data: Mapping[str, Any]) -> T:
    """The (nested) frozen config dataclass ``cls`` from its JSON form in a sidecar: lists become
    tuples, nested dicts the field's dataclass, missing fields take their defaults; unknown
    fields or invalid values are a ValueError."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})  # type: ignore[arg-type]
    if unknown:
        raise ValueError(f"the checkpoint's {cls.__name__} has unknown fields {unknown}")
    values = {name: _field_value(hints[name], value) for name, value in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"the checkpoint's {cls.__name__} is invalid: {e}") from None


def _field_value(kind: Any, value: Any) -> Any:
    if isinstance(value, dict) and dataclasses.is_dataclass(kind):
        return from_sidecar(kind, value)
    return tuple(value) if isinstance(value, list) else value
