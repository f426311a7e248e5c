"""Supervised scripts against the classic baselines, computed in the same run, as JSON lines.

For each chosen model this runs ``arena supervised <model>`` with its defaults (into a temporary
run folder), reads its headline metric and wall time, and computes the classic counterparts on
the very same split: scikit-learn's logistic regression, linear and RBF-kernel SVMs and k-NN for
the digits classifiers (ratio = our accuracy / the best baseline's), PCA for the autoencoders.

    python benchmarks/supervised.py                     # cnn and mlp (a few minutes on 2 cores)
    python benchmarks/supervised.py --models cnn --seeds 0 1 2
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
import tyro

from arena.datasets import load_images
from nets.data import split_indices

Model = Literal["cnn", "mlp"]


@dataclass(frozen=True)
class Config:
    """Options of the supervised benchmark."""

    models: tuple[Model, ...] = ("cnn", "mlp")
    """Scripts to run with their defaults."""
    seeds: tuple[int, ...] = (0,)
    """Split/training seeds; each gives one row per model and per baseline."""
    threads: int = 1
    """torch threads for our scripts."""


def classic_baselines(seed: int, fractions: tuple[float, float, float]) -> dict[str, dict[str, float]]:
    """Test accuracy and fit time of scikit-learn classifiers on our split (trained on train+val,
    which our scripts use for training and model selection)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    data = load_images("digits")
    parts = split_indices(len(data.y), fractions, seed=seed, stratify=data.y)
    x = data.x.reshape(len(data.y), -1).numpy()
    y = data.y.numpy()
    train = torch.cat([parts.train, parts.val]).numpy()
    test = parts.test.numpy()
    models = {
        "logistic_regression": LogisticRegression(max_iter=5000, C=1.0),
        "linear_svm": SVC(kernel="linear", C=1.0),
        "rbf_svm": SVC(kernel="rbf", C=10.0, gamma="scale"),
        "knn": KNeighborsClassifier(n_neighbors=3),
    }
    out = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(x[train], y[train])
        out[name] = {"test_accuracy": float(model.score(x[test], y[test])), "wall_time": time.perf_counter() - t0}
    return out


def run_ours(model: Model, seed: int, threads: int) -> dict[str, Any]:
    """Run one script with its defaults (seed changed) and return its metrics.json."""
    from arena.supervised.common import Common

    with tempfile.TemporaryDirectory() as tmp:
        common = Common(run_dir=Path(tmp) / "run", threads=threads, progress=False)
        if model == "cnn":
            from arena.supervised.cnn import CnnCommand

            cmd = CnnCommand(common=common)
            cmd = replace(cmd, task=replace(cmd.task, train=replace(cmd.task.train, seed=seed)))
        else:
            from arena.supervised.mlp import MlpCommand

            cmd = MlpCommand(common=common)
            cmd = replace(cmd, task=replace(cmd.task, train=replace(cmd.task.train, seed=seed)))
        run = cmd.run()
        return {**json.loads((run / "metrics.json").read_text()), "split": list(cmd.split)}


def main(cfg: Config) -> None:
    for seed in cfg.seeds:
        for model in cfg.models:
            ours = run_ours(model, seed, cfg.threads)
            fractions = tuple(ours["split"])
            base = classic_baselines(seed, fractions)  # type: ignore[arg-type]
            best_name = max(base, key=lambda k: base[k]["test_accuracy"])
            for name, m in base.items():
                print(json.dumps({"bench": "supervised", "model": name, "task": "digits", "seed": seed,
                                  "test_accuracy": round(m["test_accuracy"], 4), "wall_time": round(m["wall_time"], 2)}))
            print(json.dumps({
                "bench": "supervised", "model": model, "task": "digits", "seed": seed, "impl": "arena",
                "test_accuracy": round(ours["test_accuracy"], 4), "wall_time": round(ours["wall_time"], 1),
                "best_baseline": best_name,
                "ratio_vs_best_baseline": round(ours["test_accuracy"] / base[best_name]["test_accuracy"], 4),
                "ratio_vs_rbf_svm": round(ours["test_accuracy"] / base["rbf_svm"]["test_accuracy"], 4),
            }), flush=True)


if __name__ == "__main__":
    main(tyro.cli(Config))
