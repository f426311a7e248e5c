"""``arena supervised shallow``: perceptron, Widrow-Hoff, logistic, linear SVM and softmax as one-layer
networks trained by SGD, each against its scikit-learn counterpart (nets/supervised/shallow.py).

Writes ``metrics.json`` (the ``models`` table: per model ``test_accuracy``, ``sklearn_model``,
``sklearn_accuracy``, ``gap``; and ``test_accuracy`` / ``best_model`` of the best), ``metrics.jsonl``
(epoch rows tagged ``model``), ``plots/accuracy_vs_sklearn.png``, ``plots/learning_curves.png``,
``plots/templates.png`` (the weight rows of the one-output-per-class models) and one checkpoint per
model in ``checkpoints/<loss>.safetensors`` (rebuilt by :func:`load_shallow`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro

from arena.io import runs
from arena.supervised.common import Bar, load_model, plot_image_rows
from arena.supervised.runner import ImageScript, run
from nets.shallow import Shallow
from nets.supervised import SupervisedResult, shallow

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.io.runs chose the Agg backend)

LABELS = {"perceptron": "perceptron", "widrow_hoff": "Widrow-Hoff", "logistic": "logistic (OvR)",
          "hinge": "linear SVM", "softmax": "softmax"}


@dataclass(frozen=True)
class ShallowCommand(ImageScript):
    """One-layer classifiers (perceptron, Widrow-Hoff, logistic, hinge, softmax) by SGD, vs scikit-learn."""

    task: Annotated[shallow.ShallowTask, tyro.conf.arg(name="")] = field(default_factory=shallow.ShallowTask)
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified); scikit-learn fits on train+validation."""

    trainer = shallow

    def bar(self, task: shallow.ShallowTask) -> Bar:
        return Bar(task.train.epochs * len(task.models), ("val_accuracy",), tags=("model",), clock=False)

    def show(self, run_dir: Path, task: shallow.ShallowTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        _plots(run_dir / "plots", result.history, result.figures, metrics)
        return format_table(metrics) + f"\n{metrics['wall_time']:.0f} s"


def run_shallow(cmd: ShallowCommand) -> Path:
    """Train every chosen model and its counterpart, and write the run folder."""
    return run(cmd)


def load_shallow(path: str | Path) -> Shallow:
    """Rebuild a network saved by ``arena supervised shallow`` (eval mode, CPU), without pickle;
    ``nets.shallow.class_scores(model.cfg, model(x))`` gives its class scores."""
    return load_model(path, shallow.build, ("shallow",), "a shallow model")[0]  # type: ignore[return-value]


def format_table(metrics: dict[str, Any]) -> str:
    """The models table as text: our test accuracy, scikit-learn's, and the gap in points."""
    lines = [f"{'model':<16}{'ours':>8}{'sklearn':>9}{'gap':>8}  counterpart"]
    for name, row in metrics["models"].items():
        if "sklearn_accuracy" in row:
            lines.append(f"{LABELS.get(name, name):<16}{row['test_accuracy']:>8.4f}{row['sklearn_accuracy']:>9.4f}"
                         f"{100 * row['gap']:>+8.2f}  {row['sklearn_model']}")
        else:
            lines.append(f"{LABELS.get(name, name):<16}{row['test_accuracy']:>8.4f}")
    return "\n".join(lines)


def plot_vs_sklearn(path: Path, metrics: dict[str, Any], title: str = "") -> Path:
    """Grouped bars: each model's test accuracy (ours by SGD, scikit-learn's counterpart)."""
    names = list(metrics["models"])
    ours = [metrics["models"][n]["test_accuracy"] for n in names]
    theirs = [metrics["models"][n].get("sklearn_accuracy", np.nan) for n in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 2, 4))
    for offset, values, label in ((-0.2, ours, "ours (SGD)"), (0.2, theirs, "scikit-learn")):
        bars = ax.bar(x + offset, values, width=0.4, label=label)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    low = np.nanmin(ours + theirs)
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_xticks(x, [LABELS.get(n, n) for n in names], fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="lower right")
    ax.set_title(title)
    return runs.save_figure(fig, path)


def _plots(plots: Path, history: list[dict[str, Any]], figures: dict[str, np.ndarray], metrics: dict[str, Any]) -> None:
    """Bars against scikit-learn, validation accuracy and training loss per model, weight templates."""
    plot_vs_sklearn(plots / "accuracy_vs_sklearn.png", metrics, f"one-layer models on {metrics['dataset']}")
    rows = [{k: v for k, v in (("epoch", r["epoch"]), (f"{r['model']} acc", r.get("val_accuracy")),
                               (f"{r['model']} loss", r["train_loss"])) if v is not None} for r in history]
    names = list(metrics["models"])
    runs.plot_curves(plots / "learning_curves.png", rows,
                     {"val accuracy": [f"{n} acc" for n in names], "train loss": [f"{n} loss" for n in names]},
                     title="SGD learning curves (best validation-loss epoch kept)")
    templates = [(name, images) for name, images in figures.items() if name.startswith("templates/")]
    if templates:
        plot_image_rows(plots / "templates.png", [(LABELS.get(n.split("/")[1], n), t) for n, t in templates],
                        "weight row of each class, digits 0-9 (dark = positive)")
