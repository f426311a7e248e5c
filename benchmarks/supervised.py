"""Supervised scripts against the classic baselines, computed in the same run, as JSON lines.

For each chosen model this runs ``arena supervised <model>`` with its defaults (into a temporary
run folder), reads its headline metric and wall time, and computes the classic counterparts on
the very same split: scikit-learn's logistic regression, linear and RBF-kernel SVMs and k-NN for
the digits classifiers (ratio = our accuracy / the best baseline's), PCA for the autoencoders
(computed inside the script's own run, on its split), smoothed character n-gram models for
char-rnn, and the independent judge's own test accuracy next to the cGAN's class agreement.

    python benchmarks/supervised.py                     # cnn and mlp (a few minutes on 2 cores)
    python benchmarks/supervised.py --models cnn --seeds 0 1 2 3 4   # the CNN's goal table (~10 min)
    python benchmarks/supervised.py --models autoencoder cgan char-rnn --minutes 10
    python benchmarks/supervised.py --models shallow rbf rbm seq2seq ntm

The curriculum models (shallow, rbf, rbm, seq2seq, ntm) compute their classic counterparts in
their own run, on their own split (scikit-learn's Perceptron / RidgeClassifier / logistic
regression / linear SVM, an RBF SVM, scikit-learn's BernoulliRBM pipeline and logistic
regression on pixels, seq2seq without attention, an LSTM of the NTM's size); this script
prints both from the run's metrics.json.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
import tyro

from arena.io.datasets import load_images
from nets.data import split_indices

Model = Literal["cnn", "mlp", "autoencoder", "cgan", "char-rnn", "shallow", "rbf", "rbm", "seq2seq", "ntm"]
CURRICULUM = ("shallow", "rbf", "rbm", "seq2seq", "ntm")  # their classic counterparts run inside the script


@dataclass(frozen=True)
class Config:
    """Options of the supervised benchmark."""

    models: tuple[Model, ...] = ("cnn", "mlp")
    """Scripts to run with their defaults."""
    seeds: tuple[int, ...] = (0,)
    """Split/training seeds; each gives one row per model and per baseline."""
    threads: int = 1
    """torch threads for our scripts."""
    minutes: float = 10.0
    """char-rnn's training budget."""


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


def ngram_bits_per_char(train: str, test: str, order: int, alpha: float = 0.05) -> float:
    """Held-out bits/char of an add-alpha smoothed character n-gram model (order 1 = unigram),
    the classic baseline for character language models."""
    from collections import Counter

    vocab = len(set(train) | set(test)) + 1
    context_counts: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for i in range(order - 1, len(train)):
        gram = train[i - order + 1 : i + 1]
        counts[gram] += 1
        context_counts[gram[:-1]] += 1
    total = 0.0
    for i in range(order - 1, len(test)):
        gram = test[i - order + 1 : i + 1]
        p = (counts[gram] + alpha) / (context_counts[gram[:-1]] + alpha * vocab)
        total -= math.log2(p)
    return total / max(1, len(test) - order + 1)


def run_other(model: Model, cfg: Config) -> None:
    """autoencoder, cgan and char-rnn rows (one run each, their defaults)."""
    from arena.supervised.common import Common

    with tempfile.TemporaryDirectory() as tmp:
        common = Common(run_dir=Path(tmp) / "run", threads=cfg.threads, progress=False)
        if model == "autoencoder":
            from arena.supervised.autoencoder import AutoencoderCommand

            m = json.loads((AutoencoderCommand(common=common).run() / "metrics.json").read_text())
            for variant, by_k in m["variants"].items():
                for k, row in by_k.items():
                    out = {"bench": "supervised", "model": f"autoencoder-{variant}", "k": int(k),
                           "test_mse": round(row["test_mse"], 5), "pca_mse": round(row["pca_mse"], 5),
                           "ratio_vs_pca": round(row["test_mse"] / row["pca_mse"], 3)}
                    if "test_negative_elbo" in row:
                        out["test_negative_elbo"] = round(row["test_negative_elbo"], 2)
                    print(json.dumps(out), flush=True)
        elif model == "cgan":
            from arena.supervised.gan import CganCommand

            m = json.loads((CganCommand(common=common).run() / "metrics.json").read_text())
            print(json.dumps({"bench": "supervised", "model": "cgan", "class_agreement": round(m["class_agreement"], 4),
                              "judge_test_accuracy": round(m["classifier_test_accuracy"], 4),
                              "wall_time": round(m["wall_time"], 1)}), flush=True)
        elif model == "char-rnn":
            from arena.io.datasets import stdlib_text
            from arena.supervised.char_rnn import CharRnnCommand, split_text

            cmd = CharRnnCommand(common=common)
            cmd = replace(cmd, task=replace(cmd.task, minutes=cfg.minutes))
            m = json.loads((cmd.run() / "metrics.json").read_text())
            train, _, test = split_text(stdlib_text(cmd.max_chars), cmd.split)
            grams = {f"{n}-gram": ngram_bits_per_char(train, test, n) for n in (1, 3, 5)}
            for name, bits in grams.items():
                print(json.dumps({"bench": "supervised", "model": name, "test_bits_per_char": round(bits, 3)}))
            best = min(grams.values())
            print(json.dumps({"bench": "supervised", "model": "char-rnn", "impl": "arena",
                              "test_bits_per_char": round(m["test_bits_per_char"], 3),
                              "wall_time": round(m["wall_time"], 1), "minutes": cfg.minutes,
                              "ratio_vs_best_ngram": round(m["test_bits_per_char"] / best, 3)}), flush=True)


def run_curriculum(model: Model, cfg: Config) -> None:
    """One row per model and its counterpart, as computed inside the script's own run."""
    import importlib

    from arena.supervised.common import Common

    names = {"shallow": "ShallowCommand", "rbf": "RbfCommand", "rbm": "RbmCommand", "seq2seq": "Seq2SeqCommand",
             "ntm": "NtmCommand"}
    command = getattr(importlib.import_module(f"arena.supervised.{model}"), names[model])
    with tempfile.TemporaryDirectory() as tmp:
        common = Common(run_dir=Path(tmp) / "run", threads=cfg.threads, progress=False)
        m = json.loads((command(common=common).run() / "metrics.json").read_text())
    row: dict[str, Any] = {"bench": "supervised", "model": model, "impl": "arena", "wall_time": round(m["wall_time"], 1)}
    if model == "shallow":
        for name, r in m["models"].items():
            print(json.dumps({**row, "model": f"shallow-{name}", "test_accuracy": round(r["test_accuracy"], 4),
                              "peer": r["sklearn_model"], "peer_accuracy": round(r["sklearn_accuracy"], 4),
                              "difference_points": round(100 * (r["test_accuracy"] - r["sklearn_accuracy"]), 2)}))
        return
    if model == "rbf":
        row.update(test_accuracy=round(m["test_accuracy"], 4), peer=m["sklearn_model"],
                   peer_accuracy=round(m["sklearn_accuracy"], 4))
    elif model == "rbm":
        row.update({k: round(m[k], 4) for k in ("rbm_features_accuracy", "raw_pixels_accuracy", "grey_pixels_accuracy",
                                               "sklearn_rbm_accuracy", "test_accuracy", "mlp_no_pretraining_accuracy")})
    elif model == "seq2seq":
        row.update({k: round(v, 4) for k, v in m.items() if k.startswith("test_sequence_accuracy_")})
    else:
        row.update({k: round(m[k], 3) for k in ("test_bit_error", "lstm_test_bit_error", "test_bit_error_long",
                                               "lstm_test_bit_error_long")})
    print(json.dumps(row), flush=True)


def main(cfg: Config) -> None:
    for model in cfg.models:
        if model in CURRICULUM:
            run_curriculum(model, cfg)
        elif model not in ("cnn", "mlp"):
            run_other(model, cfg)
    rows: dict[str, list[tuple[float, float]]] = {}  # model -> (ours, RBF SVM) test accuracy per seed
    for seed in cfg.seeds:
        for model in [m for m in cfg.models if m in ("cnn", "mlp")]:
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
            rows.setdefault(model, []).append((ours["test_accuracy"], base["rbf_svm"]["test_accuracy"]))
    for model, pairs in rows.items():
        if len(pairs) > 1:
            print(json.dumps(seed_summary(model, cfg.seeds, pairs)), flush=True)


def seed_summary(model: str, seeds: tuple[int, ...], pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """One line over the seeds: mean test accuracy of ours and of the RBF SVM, and on how many
    splits ours is above / equal to / below it (the cnn goal: mean >= 99% and above the SVM)."""
    pairs = [(round(o, 6), round(b, 6)) for o, b in pairs]  # ours is a float32 mean, sklearn's a float64
    ours, svm = [p[0] for p in pairs], [p[1] for p in pairs]
    return {
        "bench": "supervised", "model": model, "task": "digits", "summary": "mean over seeds", "seeds": list(seeds),
        "test_accuracy": round(sum(ours) / len(ours), 4), "rbf_svm_test_accuracy": round(sum(svm) / len(svm), 4),
        "splits_above_rbf_svm": sum(o > b for o, b in pairs), "splits_equal": sum(o == b for o, b in pairs),
        "splits_below": sum(o < b for o, b in pairs),
    }


if __name__ == "__main__":
    main(tyro.cli(Config))
