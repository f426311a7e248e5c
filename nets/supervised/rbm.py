"""Bernoulli RBMs on binarized digits (CD-1 against persistent CD) and a deep belief network.

One run trains, on the same split and binarized pixels:

- two RBMs of ``hidden`` units, one by CD-k and one by PCD (same optimizer and epochs), and
  reports their test reconstruction errors and pseudo-log-likelihoods; reconstructions, samples
  from long Gibbs chains and the learned filters are returned as figures;
- multinomial logistic regression on each RBM's hidden probabilities, and on the raw binarized
  pixels (the classic counterpart; also on the [0, 1] grey pixels, to show what binarizing costs),
  its L2 weight picked on the validation split from one grid;
- a DBN: the ``dbn_method`` RBM as layer 1 and ``dbn_hidden`` more RBMs trained greedily on the
  hidden probabilities below, turned into a sigmoid MLP and fine-tuned with ``fit``; and the same
  MLP trained from PyTorch's random init with the same ``finetune`` budget.

    result = train(RBMTask(), train_data, val_data, test_data)
    result.metrics["test_accuracy"], result.metrics["rbm_features_accuracy"]

Pure: no printing, no files (``arena supervised rbm`` adds scikit-learn's BernoulliRBM pipeline).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nets.dbn import DBN, DBNConfig, dbn_mlp_config, mlp_from_dbn, pretrain_dbn
from nets.mlp import MLP
from nets.rbm import (
    BernoulliRBM,
    CDConfig,
    CDMethod,
    PersistentChains,
    RBMConfig,
    fit_rbm,
    gibbs_chain,
    hidden_probs,
    pseudo_log_likelihood,
    reconstruct,
    reconstruction_error,
    sample_bernoulli,
)
from nets.supervised import SupervisedResult
from nets.train import EpochLog, TrainConfig, accuracy, classification_loss, classification_metrics, fit, predict

StageCallback = Callable[[str, EpochLog], None]
"""Called after every epoch with the stage (``rbm-cd``, ``rbm-pcd``, ``dbn-layer2``, ...,
``finetune``, ``scratch``) and the epoch log."""


@dataclass(frozen=True)
class RBMTask:
    """The RBMs, the DBN on top, and how each is trained."""

    hidden: int = 256
    """Hidden units of the two single RBMs (and of the DBN's first layer)."""
    k: int = 1
    """Gibbs steps per update of the CD RBM (CD-k) and of the PCD chains."""
    pcd_chains: int = 100
    """Persistent chains of the PCD RBM (also the samples it can show)."""
    rbm_train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=30, batch_size=20, optimizer="momentum", lr=0.1, momentum=0.5, weight_decay=1e-4,
    ))
    """Optimisation of every RBM (weight decay on W only; Hinton's practical guide's SGD with momentum)."""
    binarize_threshold: float = 0.5
    """Pixels above this are 1, the rest 0: the Bernoulli data every model here sees."""
    dbn_hidden: tuple[int, ...] = (256,)
    """Widths of the DBN's RBMs above the first one (trained greedily, bottom-up)."""
    dbn_method: CDMethod = "cd"
    """Which single RBM is the DBN's first layer, and how its upper layers are trained (cd or pcd)."""
    features_method: CDMethod = "pcd"
    """Whose hidden probabilities give the headline ``rbm_features_accuracy`` (both are reported)."""
    finetune: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=60, batch_size=32, optimizer="adam", lr=1e-3, weight_decay=0.0,
    ))
    """Fine-tuning of the DBN's MLP, and the training of the same MLP from random init."""
    l2_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2)
    """L2 weights tried for every logistic regression (the best validation accuracy is kept)."""
    sample_steps: int = 1000
    """Extra Gibbs steps run on the chains whose samples are shown."""
    samples: int = 64
    """Chains shown as samples (at most ``pcd_chains``)."""
    reconstructions: int = 12
    """Test images shown with their reconstructions."""
    filters: int = 64
    """Hidden units whose weights are shown as images."""

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.k < 1 or self.pcd_chains < 1 or any(h < 1 for h in self.dbn_hidden):
            raise ValueError("hidden, k, pcd_chains and dbn_hidden widths must be >= 1")
        if not 0.0 < self.binarize_threshold < 1.0:
            raise ValueError(f"binarize_threshold must be in (0, 1), got {self.binarize_threshold}")
        if not self.l2_grid or min(self.l2_grid) < 0:
            raise ValueError(f"l2_grid must be non-empty and >= 0, got {self.l2_grid}")
        if not 0 <= self.samples <= self.pcd_chains or self.sample_steps < 1:
            raise ValueError(f"need 0 <= samples <= pcd_chains ({self.pcd_chains}) and sample_steps >= 1")

    def cd_config(self, method: CDMethod) -> CDConfig:
        return CDConfig(method=method, k=self.k, chains=self.pcd_chains if method == "pcd" else None)


class LogisticResult(NamedTuple):
    """A logistic regression picked on validation: accuracies, its L2 weight, and its classifier."""

    test_accuracy: float
    val_accuracy: float
    l2: float
    classifier: nn.Linear


def train(
    cfg: RBMTask,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    callbacks: Sequence[StageCallback] = (),
) -> SupervisedResult:
    """Train the CD and PCD RBMs, their logistic regressions, the DBN and its scratch twin on
    ``(x [n, 1, H, W] in [0, 1], y [n])`` splits (flattened and binarized inside).

    Returns:
        ``SupervisedResult`` with ``model`` an ``nn.ModuleDict`` (``rbm_cd``, ``rbm_pcd``, ``chains``
        (PCD's persistent chains after sampling), ``dbn``, ``classifier`` (the fine-tuned MLP),
        ``scratch`` (the MLP from random init)); ``metrics`` with ``test_accuracy`` (fine-tuned
        DBN), ``rbm_features_accuracy``, ``raw_pixels_accuracy`` (binarized, as the RBMs see them),
        ``grey_pixels_accuracy``, ``mlp_no_pretraining_accuracy``,
        ``{cd,pcd}_reconstruction_error``, ``{cd,pcd}_pseudo_log_likelihood``, ``{cd,pcd}_features_accuracy``,
        ...; ``history`` every epoch row tagged with ``stage``; ``figures``: ``originals``,
        ``reconstructions/{cd,pcd}`` ``[reconstructions, H, W]``, ``samples/{cd,pcd}``
        ``[samples, H, W]``, ``filters/{cd,pcd}`` ``[filters, H, W]`` (each scaled to [0, 1]).
    """
    start = time.perf_counter()
    shape = tuple(train_data[0].shape[-2:])
    (xtr, ytr), (xva, yva), (xte, yte) = [(binarize(x, cfg.binarize_threshold), y) for x, y in (train_data, val_data, test_data)]
    n_classes = int(max(int(y.max()) for y in (ytr, yva, yte) if len(y)) + 1)
    history: list[dict[str, Any]] = []

    def stage(name: str) -> list[Callable[[EpochLog], None]]:
        def record(log: EpochLog) -> None:
            history.append({"stage": name, **log.metrics})
        return [record, *(_tag(cb, name) for cb in callbacks)]

    rbms: dict[str, BernoulliRBM] = {}
    chains = None
    metrics: dict[str, Any] = {}
    for method in ("cd", "pcd"):
        torch.manual_seed(cfg.rbm_train.seed)  # the same initial weights for both
        rbm = BernoulliRBM(RBMConfig(visible=xtr.shape[1], hidden=cfg.hidden))
        result = fit_rbm(rbm, xtr, cfg.cd_config(method), cfg.rbm_train, xva, stage(f"rbm-{method}"))
        rbms[method] = rbm
        chains = result.chains if result.chains is not None else chains
        device = rbm.weight.device
        test = xte.to(device)
        features = [hidden_probs(rbm, x.to(device)) for x in (xtr, xva, xte)]
        lr = logistic_regression((features[0], ytr), (features[1], yva), (features[2], yte), cfg.l2_grid, n_classes)
        metrics.update({
            f"{method}_reconstruction_error": reconstruction_error(rbm, test),
            f"{method}_pseudo_log_likelihood": pseudo_log_likelihood(  # exact up to 256 pixels, else sampled
                rbm, test, None if test.shape[1] <= 256 else torch.Generator(device=device).manual_seed(0)),
            f"{method}_features_accuracy": lr.test_accuracy, f"{method}_features_l2": lr.l2,
            f"{method}_wall_time": result.wall_time,
        })
    raw = logistic_regression((xtr, ytr), (xva, yva), (xte, yte), cfg.l2_grid, n_classes)
    grey = logistic_regression(*[(x.flatten(1).float(), y) for x, y in (train_data, val_data, test_data)],
                               cfg.l2_grid, n_classes)  # what binarizing costs: the same on [0, 1] pixels
    metrics.update(rbm_features_accuracy=metrics[f"{cfg.features_method}_features_accuracy"],
                   raw_pixels_accuracy=raw.test_accuracy, raw_pixels_l2=raw.l2,
                   grey_pixels_accuracy=grey.test_accuracy)

    dbn, classifier, scratch, dbn_metrics = train_dbn(cfg, rbms[cfg.dbn_method], (xtr, ytr), (xva, yva), (xte, yte),
                                                      n_classes, stage)
    metrics.update(dbn_metrics)
    assert chains is not None  # the PCD RBM's
    figures = _figures(cfg, rbms, chains, xte, shape)
    metrics.update(wall_time=time.perf_counter() - start, train_size=len(ytr), val_size=len(yva), test_size=len(yte),
                   visible=xtr.shape[1], hidden=cfg.hidden, k=cfg.k, dbn_hidden=[cfg.hidden, *cfg.dbn_hidden])
    model = nn.ModuleDict({"rbm_cd": rbms["cd"], "rbm_pcd": rbms["pcd"], "chains": chains, "dbn": dbn,
                           "classifier": classifier, "scratch": scratch})
    return SupervisedResult(model, metrics, history, figures)


def train_dbn(
    cfg: RBMTask,
    first: BernoulliRBM,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    n_classes: int,
    stage: Callable[[str], list[Callable[[EpochLog], None]]],
) -> tuple[DBN, MLP, MLP, dict[str, Any]]:
    """Stack a copy of ``first`` and greedily trained RBMs into a DBN, fine-tune its MLP, and train
    the same MLP from random init with the same budget, on flat binary ``(x [n, V], y [n])``.
    Returns ``(dbn, fine-tuned MLP, scratch MLP, metrics)``."""
    dbn = DBN(DBNConfig(visible=first.cfg.visible, hidden=(first.cfg.hidden, *cfg.dbn_hidden))).to(first.weight.device)
    dbn.rbms[0].load_state_dict(first.state_dict())

    def on_layer(layer: int, log: EpochLog) -> None:
        for callback in stage(f"dbn-layer{layer + 1}"):
            callback(log)

    pretrain_dbn(dbn, train_data[0], cfg.cd_config(cfg.dbn_method), cfg.rbm_train, start_layer=1, val_x=val_data[0],
                 callbacks=[on_layer])
    out: dict[str, Any] = {}
    nets = {}
    for name in ("finetune", "scratch"):
        torch.manual_seed(cfg.finetune.seed)  # the same output layer init for both
        mlp = mlp_from_dbn(dbn, n_classes) if name == "finetune" else MLP(dbn_mlp_config(dbn.cfg, n_classes))
        result = fit(mlp, train_data, classification_loss(), cfg.finetune, val=val_data, evaluate=classification_metrics,
                     monitor="val_loss", mode="min", callbacks=stage(name))
        logits = predict(result.model, test_data[0]).cpu()
        key = "test_accuracy" if name == "finetune" else "mlp_no_pretraining_accuracy"
        out[key] = accuracy(logits, test_data[1])
        out[f"{name}_best_epoch"] = result.best_epoch
        out[f"{name}_val_accuracy"] = result.best.get("val_accuracy")
        out[f"{name}_wall_time"] = result.wall_time
        nets[name] = result.model
    return dbn, nets["finetune"], nets["scratch"], out


def logistic_regression(
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    l2_grid: Sequence[float],
    n_classes: int,
    max_iter: int = 300,
) -> LogisticResult:
    """Multinomial logistic regression on features ``[n, D]``, one full-batch L-BFGS fit per L2
    weight (loss: mean cross-entropy + ``l2 / 2 * |W|^2``, scikit-learn's ``C = 1 / (l2 * n)``);
    the fit with the best validation accuracy (the larger L2 on ties) is tested."""
    best: LogisticResult | None = None
    x, y = train_data[0].detach().float(), train_data[1].to(train_data[0].device)
    for l2 in sorted(l2_grid, reverse=True):
        linear = nn.Linear(x.shape[1], n_classes).to(x.device)
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
        opt = torch.optim.LBFGS(linear.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(linear(x), y) + 0.5 * l2 * (linear.weight**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        val = predict(linear, val_data[0].float()) if len(val_data[1]) else None
        val_acc = accuracy(val, val_data[1]) if val is not None else 0.0
        if best is None or val_acc > best.val_accuracy:
            best = LogisticResult(accuracy(predict(linear, test_data[0].float()), test_data[1]), val_acc, l2, linear)
    assert best is not None
    return best


def binarize(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Images ``[n, ...]`` in [0, 1] as flat binary pixels ``[n, D]``: above ``threshold`` -> 1."""
    return (x.reshape(len(x), -1) > threshold).float()


@torch.no_grad()
def sample_chains(rbm: BernoulliRBM, start: torch.Tensor, steps: int, seed: int = 0) -> torch.Tensor:
    """Run Gibbs chains ``steps`` steps on from binary ``start [n, V]``; returns the last
    ``p(v | h)`` means ``[n, V]`` (smoother to look at than the binary sample)."""
    g = torch.Generator(device=start.device).manual_seed(seed)
    return gibbs_chain(rbm, start, steps, g).v_probs


def filters(rbm: BernoulliRBM, n: int) -> torch.Tensor:
    """The weights of the first ``n`` hidden units ``[n, V]``, each min-max scaled to [0, 1]."""
    w = rbm.weight.detach()[:n]
    lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
    return (w - lo) / (hi - lo).clamp_min(1e-8)


def _figures(cfg: RBMTask, rbms: dict[str, BernoulliRBM], chains: PersistentChains, test_x: torch.Tensor,
             shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Reconstructions, long-chain samples and filters of both RBMs. The PCD samples continue the
    persistent chains (mutating ``chains``); the CD ones start from the same random bits."""
    device = rbms["cd"].weight.device
    shown = test_x[: cfg.reconstructions].to(device)
    images = lambda t: t.detach().cpu().clamp(0, 1).reshape(len(t), *shape).numpy()  # noqa: E731
    figures = {"originals": images(shown)}
    g = torch.Generator(device=device).manual_seed(cfg.rbm_train.seed)
    noise = sample_bernoulli(torch.full((cfg.samples, rbms["cd"].cfg.visible), 0.5, device=device), g)
    for method, rbm in rbms.items():
        figures[f"reconstructions/{method}"] = images(reconstruct(rbm, shown))
        figures[f"filters/{method}"] = images(filters(rbm, cfg.filters))
    if cfg.samples:
        figures["samples/cd"] = images(sample_chains(rbms["cd"], noise, cfg.sample_steps, cfg.rbm_train.seed))
        chains.state.copy_(gibbs_chain(rbms["pcd"], chains.state, cfg.sample_steps, g).v)
        figures["samples/pcd"] = images(sample_chains(rbms["pcd"], chains.state[: cfg.samples], 1, cfg.rbm_train.seed))
    return figures


def _tag(callback: StageCallback, name: str) -> Callable[[EpochLog], None]:
    return lambda log: callback(name, log)
