"""``arena supervised <model>``: run a supervised script with a progress bar and a run folder.

Every script writes the same kind of run folder: ``config.json``, ``metrics.jsonl`` (one line
per epoch), ``metrics.json`` (final test metrics with fixed names, wall time, device), PNG plots
(``plots/``) and a checkpoint (``model.safetensors`` + ``model.json``, loadable without pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

import tyro


def _models() -> Any:
    """The union of every script's command (one subcommand each)."""
    from arena.supervised.autoencoder import AutoencoderCommand
    from arena.supervised.char_rnn import CharRnnCommand
    from arena.supervised.cnn import CnnCommand
    from arena.supervised.gan import CganCommand, GanCommand
    from arena.supervised.gradients import GradientsCommand
    from arena.supervised.mlp import MlpCommand
    from arena.supervised.ntm import NtmCommand
    from arena.supervised.rbf import RbfCommand
    from arena.supervised.rbm import RbmCommand
    from arena.supervised.seq2seq import Seq2SeqCommand
    from arena.supervised.shallow import ShallowCommand

    return Union[  # noqa: UP007 (tyro reads the Union)
        Annotated[CnnCommand, tyro.conf.subcommand("cnn")],
        Annotated[MlpCommand, tyro.conf.subcommand("mlp")],
        Annotated[GradientsCommand, tyro.conf.subcommand("gradients")],
        Annotated[CharRnnCommand, tyro.conf.subcommand("char-rnn")],
        Annotated[AutoencoderCommand, tyro.conf.subcommand("autoencoder")],
        Annotated[GanCommand, tyro.conf.subcommand("gan")],
        Annotated[CganCommand, tyro.conf.subcommand("cgan")],
        Annotated[ShallowCommand, tyro.conf.subcommand("shallow")],
        Annotated[RbfCommand, tyro.conf.subcommand("rbf")],
        Annotated[RbmCommand, tyro.conf.subcommand("rbm")],
        Annotated[Seq2SeqCommand, tyro.conf.subcommand("seq2seq")],
        Annotated[NtmCommand, tyro.conf.subcommand("ntm")],
    ]


SupervisedModel = _models()


@dataclass(frozen=True)
class Supervised:
    """Train one of the supervised models (data ships offline; a run folder records it all)."""

    model: Annotated[SupervisedModel, tyro.conf.arg(name="")]


def run(cmd: Supervised) -> Path | None:
    """Dispatch to the model's runner (under torchrun with ``--nproc N``); returns the run
    folder (None in the launching process of a multi-process run)."""
    from arena.supervised.common import run_model

    return run_model(cmd.model)


