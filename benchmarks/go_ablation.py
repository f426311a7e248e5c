"""KataGo's efficiencies one at a time, at equal compute: each variant of the Go preset
trains for the same training seconds on the same machine, then plays GNU Go, as JSON lines.

Variants (``--variants``), each the 7x7/9x9 preset of ``arena train go`` (arena/commands/train.py) with
one part changed:

- ``katago``: the preset itself (global pooling network, ownership and score targets, playout
  cap randomization, resignation).
- ``no_aux``: no ownership or score targets (``ownership_weight = score_weight = 0``).
- ``no_tower_pooling``: plain residual blocks in the tower (the heads still pool).
- ``no_playout_cap``: every move searched in full (``full_search_fraction = 1``).
- ``no_resign``: every game played out (``resign_threshold = 0``).
- ``mixed``: the same network also self-plays the board two sizes up (7x7 -> 9x9 beside it).
- ``score_utility``: the preset plus KataGo's score utility in every search (self-play and
  play, ``search.score_utility = 0.25``: agents/mcts.py), with the resignation threshold moved
  from 0.9 to 0.8 so that a side still resigns at a value of -0.9 and a margin of -N points.
- ``alphazero``: none of them (AlphaGo Zero's network and targets, every move searched in full,
  no resignation): the baseline.

Each variant's network (its latest) plays ``--gnugo-games`` games against GNU Go at each of
``--levels`` (half with each colour, the default play-time search, batched through
``arena.go.gnugo.play_gnugo_batched``); a row gives the win rate with its 95% Wilson interval, and
the training it had (games, positions, gradient steps). A last row per level summarizes.

    python benchmarks/go_ablation.py --size 7 --seconds 1200                       # every variant
    python benchmarks/go_ablation.py --size 7 --seconds 60 --variants katago alphazero --gnugo-games 4

The budget is wall-clock time: run it on a quiet machine, one variant after another (as it
does), and record the results in BENCHMARKS.md with the machine. Two processes of one torch thread
each (``--threads 1``, a variant list each) use both cores and keep the compute equal within a
pair. Short runs lose every game to GNU Go; judge them against each other instead, from random
openings so that their deterministic searches play different games:

    python benchmarks/go_ablation.py --size 7 --seconds 600 --threads 1 --variants katago no_aux --levels --keep runs/abl
    arena tournament go --size 7 --players runs/abl/* --games 40 --opening 3 --anchor katago
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tyro

from agents.alphazero import AlphaZeroConfig
from arena.commands.train import preset

Variant = Literal["katago", "no_aux", "no_tower_pooling", "no_playout_cap", "no_resign", "mixed", "score_utility",
                  "alphazero"]
VARIANTS: tuple[Variant, ...] = ("katago", "no_aux", "no_tower_pooling", "no_playout_cap", "no_resign", "mixed",
                                 "score_utility", "alphazero")


@dataclass(frozen=True)
class Config:
    """Options of the ablation."""

    size: int = 7
    """Go board size of every variant (and of GNU Go's games)."""
    seconds: float = 1200.0
    """Training seconds per variant (self-play and learning; evaluation apart)."""
    variants: tuple[Variant, ...] = VARIANTS
    """Which variants to train, in order."""
    levels: tuple[int, ...] = (1,)
    """GNU Go levels each trained network plays."""
    gnugo_games: int = 40
    """Games per variant and level."""
    seed: int = 0
    """Training seed (the same for every variant) and GNU Go's seed of game 0."""
    threads: int | None = None
    """torch threads (default: the preset's, every usable core)."""
    keep: Path | None = None
    """Keep each variant's run folder under this directory (default: a temporary one)."""


def variant_config(base: AlphaZeroConfig, variant: Variant) -> AlphaZeroConfig:
    """The preset ``base`` with the part named by ``variant`` changed."""
    changes: dict[str, Any] = {
        "katago": {},
        "no_aux": {"ownership_weight": 0.0, "score_weight": 0.0},
        "no_tower_pooling": {"tower_pooling": False},
        "no_playout_cap": {"full_search_fraction": 1.0},
        "no_resign": {"resign_threshold": 0.0},
        "mixed": {"mixed_sizes": (base.size + 2,)},
        "score_utility": {"search": dataclasses.replace(base.search, score_utility=0.25), "resign_threshold": 0.8},
        "alphazero": {"global_pooling": False, "ownership_weight": 0.0, "score_weight": 0.0,
                      "full_search_fraction": 1.0, "resign_threshold": 0.0},
    }[variant]
    return dataclasses.replace(base, **changes)


def run_variant(cfg: Config, variant: Variant, folder: Path) -> list[dict[str, Any]]:
    """Train one variant for ``cfg.seconds``, then judge it against GNU Go: its rows."""
    from arena.selfplay.alphazero import TrainOptions, train

    chosen = preset("go", cfg.size)
    az = variant_config(chosen.cfg, variant)
    opts = TrainOptions(seconds=cfg.seconds, eval_every=max(cfg.seconds / 2, 1.0), eval_games=chosen.eval_games,
                        seed=cfg.seed, threads=cfg.threads or chosen.threads)
    run = folder / variant
    tick = time.perf_counter()
    final = train(az, opts, run)
    wall = time.perf_counter() - tick
    if final["stopped"]:
        # Ctrl-C/SIGTERM stopped the run loop early (it saved the run): a short variant is not at
        # equal compute, and the stop was meant for the whole benchmark, not for this variant.
        raise SystemExit(f"stopped after {final['train_seconds']:.0f} of {cfg.seconds:.0f} s of {variant}; "
                         f"its run folder is {run}; the remaining variants were not run")
    trained = dict(variant=variant, budget_seconds=cfg.seconds, train_wall_seconds=round(wall, 1),
                   games_trained=final["games"], positions=final["positions"], steps=final["step"],
                   resigned_share=round(final.get("resigned", 0) / max(final["games"], 1), 4),
                   false_resigns=f"{final.get('resign_wrong', 0)}/{final.get('resign_checks', 0)}")
    # The training row comes first, so a run judged elsewhere (``--levels`` with no level, then
    # ``arena tournament go --players <keep>/*``) still records what each variant trained on.
    print(json.dumps({"part": "go_ablation_train", **trained}), flush=True)
    bench = _bench_alphazero()
    judge = bench.Config(part="gnugo", levels=cfg.levels, gnugo_games=cfg.gnugo_games, seed=cfg.seed)
    rows = []
    for row in bench.gnugo_rows(judge, str(run / "checkpoints" / "latest.safetensors"), report=False):
        row.update(part="go_ablation", **trained)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per level, the variants by win rate, with each one's interval."""
    out = []
    for level in sorted({r["level"] for r in rows}):
        ranked = sorted((r for r in rows if r["level"] == level), key=lambda r: -r["win_rate"])
        out.append({"part": "go_ablation_summary", "level": level,
                    "ranking": [{"variant": r["variant"], "win_rate": r["win_rate"], "ci95": r["ci95"]} for r in ranked]})
    return out


def _bench_alphazero() -> Any:
    """benchmarks/alphazero.py as a module (its GNU Go judgement and machine description)."""
    spec = importlib.util.spec_from_file_location("bench_alphazero", Path(__file__).with_name("alphazero.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(cfg: Config) -> None:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(cfg.keep or tmp)
        for variant in cfg.variants:
            rows += run_variant(cfg, variant, folder)
    for line in summary(rows):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(tyro.cli(Config))
