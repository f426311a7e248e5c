"""Bernoulli RBMs on binarized digits (CD-1 against persistent CD) and a deep belief network.

One run trains, on the same split and binarized pixels:

- two RBMs of ``hidden`` units, one by CD-k and one by PCD (same optimizer and epochs), and
  reports their test reconstruction errors and pseudo-log-likelihoods; reconstructions, samples
  from long Gibbs chains and the learned filters are returned as figures;
- multinomial logistic regression on each RBM's hidden probabilities, and on the raw binarized
  pixels (the classic counterpart; also on the [0, 1] grey pixels, to show what binarizing costs),
  its L2 weight picked on the validation split from one grid;
- a DBN: the ``dbn_method`` RBM as layer 1 and ``dbn_hidden`` more RBMs trained greedily on the
  hidden probabilities below (``pretrain_dbn``), turned into a sigmoid MLP and fine-tuned with
  ``fit``; and the same MLP trained from PyTorch's random init with the same ``finetune`` budget;
- with ``sklearn``, scikit-learn's BernoulliRBM + LogisticRegression pipeline on the same split.

The RBM training loop (``fit_rbm``: CD-k or PCD minibatch updates, nets/rbm.py's surrogate loss)
is here too, beside the run that uses it.

    result = train(RBMTask(), ImageSplits(train, val, test))
    result.metrics["test_accuracy"], result.metrics["rbm_features_accuracy"]

Pure: no printing, no files.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from nets.data import ImageSplits, batches
from nets.dbn import DBN, DBNConfig, dbn_mlp_config, mlp_from_dbn, propagate_up
from nets.mlp import MLP
from nets.rbm import (
    BernoulliRBM,
    CDConfig,
    CDMethod,
    PersistentChains,
    RBMConfig,
    cd_negatives,
    contrastive_divergence_loss,
    gibbs_chain,
    hidden_probs,
    init_visible_bias,
    pcd_negatives,
    pseudo_log_likelihood,
    reconstruct,
    reconstruction_error,
    sample_bernoulli,
)
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar, tagged
from nets.supervised.shallow import logistic_regression
from nets.train import (EpochLog, TrainConfig, accuracy, classification_loss, classification_metrics, fit,
                        make_optimizer, make_scheduler, predict, seed_everything, select_device)


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
    sklearn: bool = True
    """Also run scikit-learn's BernoulliRBM + LogisticRegression on the same split (sklearn_rbm_accuracy)."""

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.k < 1 or self.pcd_chains < 1 or any(h < 1 for h in self.dbn_hidden):
            raise ValueError("hidden, k, pcd_chains and dbn_hidden widths must be >= 1")
        if not 0.0 < self.binarize_threshold < 1.0:
            raise ValueError(f"binarize_threshold must be in (0, 1), got {self.binarize_threshold}")
        if not self.l2_grid or min(self.l2_grid) < 0:
            raise ValueError(f"l2_grid must be non-empty and >= 0, got {self.l2_grid}")
        if not 0 <= self.samples <= self.pcd_chains or self.sample_steps < 1:
            raise ValueError(f"need 0 <= samples <= pcd_chains ({self.pcd_chains}) and sample_steps >= 1")

    def quick(self) -> RBMTask:
        """Seconds-long settings: few epochs, short chains."""
        return replace(self, hidden=64, dbn_hidden=(64,), rbm_train=replace(self.rbm_train, epochs=6, batch_size=10),
                       finetune=replace(self.finetune, epochs=6, batch_size=16, lr=1e-2), sample_steps=50,
                       pcd_chains=64, samples=36, filters=36, l2_grid=(1e-3,))

    def cd_config(self, method: CDMethod) -> CDConfig:
        return CDConfig(method=method, k=self.k, chains=self.pcd_chains if method == "pcd" else None)


class RBMFit(NamedTuple):
    """What :func:`fit_rbm` returns: per-epoch rows, the PCD chains (None for CD) and the time taken."""

    history: list[dict[str, float]]
    chains: PersistentChains | None
    wall_time: float


def train(cfg: RBMTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train the CD and PCD RBMs, their logistic regressions, the DBN and its scratch twin on
    ``(x [n, 1, H, W] in [0, 1], y [n])`` splits (flattened and binarized inside); callback rows
    start with ``stage`` (``rbm-cd``, ``rbm-pcd``, ``dbn-layer2``, ..., ``finetune``, ``scratch``).

    Returns:
        ``SupervisedResult`` with ``model`` an ``nn.ModuleDict`` (``rbm_cd``, ``rbm_pcd``, ``chains``
        (PCD's persistent chains after sampling), ``dbn``, ``classifier`` (the fine-tuned MLP),
        ``scratch`` (the MLP from random init)); ``metrics`` with ``test_accuracy`` (fine-tuned
        DBN), ``rbm_features_accuracy``, ``raw_pixels_accuracy`` (binarized, as the RBMs see them),
        ``grey_pixels_accuracy``, ``mlp_no_pretraining_accuracy``,
        ``{cd,pcd}_reconstruction_error``, ``{cd,pcd}_pseudo_log_likelihood``, ``{cd,pcd}_features_accuracy``,
        ``sklearn_rbm_accuracy`` (with ``cfg.sklearn``; its time is not in ``wall_time``), ...;
        ``history`` every epoch row tagged with ``stage``; ``figures``: ``originals``,
        ``reconstructions/{cd,pcd}`` ``[reconstructions, H, W]``, ``samples/{cd,pcd}``
        ``[samples, H, W]``, ``filters/{cd,pcd}`` ``[filters, H, W]`` (each scaled to [0, 1]).
    """
    start = time.perf_counter()
    shape = data.image_shape[-2:]
    (xtr, ytr), (xva, yva), (xte, yte) = [(binarize(x, cfg.binarize_threshold), y) for x, y in data]
    n_classes = int(max(int(y.max()) for y in (ytr, yva, yte) if len(y)) + 1)
    history: list[dict[str, Any]] = []

    def stage(name: str) -> list[Callback]:
        def record(log: EpochLog) -> None:
            history.append({"stage": name, **log.metrics})
        return [record, *tagged(callbacks, stage=name)]

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
    grey = logistic_regression(*[(x.flatten(1).float(), y) for x, y in data],
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
    if cfg.sklearn:
        metrics.update(sklearn_rbm_pipeline(cfg, data))
    model = nn.ModuleDict({"rbm_cd": rbms["cd"], "rbm_pcd": rbms["pcd"], "chains": chains, "dbn": dbn,
                           "classifier": classifier, "scratch": scratch})
    return SupervisedResult(model, metrics, history, figures)


def checkpoints(cfg: RBMTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint of every trained network and the persistent chains."""
    return {"model": Part(result.model, {"config": dataclasses.asdict(cfg), "image_shape": list(data.image_shape),
                                         "n_classes": result.model["classifier"].cfg.out_features})}


def build(sidecar: dict[str, Any]) -> nn.ModuleDict:
    """What an rbm checkpoint holds: ``rbm_cd``, ``rbm_pcd``, ``chains``, ``dbn``, ``classifier``
    (fine-tuned DBN) and ``scratch`` MLPs."""
    task = from_sidecar(RBMTask, sidecar["config"])
    visible = int(np.prod(sidecar["image_shape"]))
    dbn_cfg = DBNConfig(visible=visible, hidden=(task.hidden, *task.dbn_hidden))
    mlp_cfg = dbn_mlp_config(dbn_cfg, int(sidecar["n_classes"]))
    return nn.ModuleDict({
        "rbm_cd": BernoulliRBM(RBMConfig(visible, task.hidden)), "rbm_pcd": BernoulliRBM(RBMConfig(visible, task.hidden)),
        "chains": PersistentChains(task.pcd_chains, visible), "dbn": DBN(dbn_cfg),
        "classifier": MLP(mlp_cfg), "scratch": MLP(mlp_cfg),
    })


def fit_rbm(
    rbm: BernoulliRBM,
    x: torch.Tensor,
    cd: CDConfig,
    train: TrainConfig,
    val_x: torch.Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> RBMFit:
    """Train ``rbm`` in place on binary (or [0, 1] mean) data ``x [n, V]`` by CD-k or PCD.

    Minibatches, optimizer and schedule come from ``train`` (weight decay acts on ``W`` only, not
    the biases); the visible bias starts at the data's log-odds. After every epoch a row with
    ``train_reconstruction_error`` (mean over the epoch's batches, before each update), ``lr`` and,
    given ``val_x``, ``val_reconstruction_error`` and ``val_pseudo_log_likelihood`` goes to the
    callbacks. PCD's chains start as uniform random bits and are returned for sampling.
    """
    generator = seed_everything(train.seed)
    device = select_device(train.device)
    rbm.to(device)
    x = x.to(device).float()
    val_x = val_x.to(device).float() if val_x is not None and len(val_x) else None
    init_visible_bias(rbm, x)
    sampler = torch.Generator(device=device).manual_seed(train.seed)
    chains = None
    if cd.method == "pcd":
        chains = PersistentChains(cd.chains or train.batch_size, rbm.cfg.visible, generator).to(device)
    opt = make_optimizer([{"params": [rbm.weight]},
                          {"params": [rbm.visible_bias, rbm.hidden_bias], "weight_decay": 0.0}], train)
    sched = make_scheduler(opt, train, max(1, -(-len(x) // train.batch_size)))
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for epoch in range(1, train.epochs + 1):
        rbm.train()
        total = 0.0
        for (batch,) in batches((x,), train.batch_size, shuffle=True, generator=generator):
            if chains is None:
                negatives = cd_negatives(rbm, batch, cd.k, sampler)
            else:
                negatives = pcd_negatives(rbm, chains, cd.k, sampler)
            loss = contrastive_divergence_loss(rbm, batch, negatives)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if train.schedule == "onecycle":
                sched.step()
            total += reconstruction_error(rbm, batch) * len(batch)
        rbm.eval()
        row = {"epoch": float(epoch), "train_reconstruction_error": total / len(x), "lr": opt.param_groups[0]["lr"]}
        if val_x is not None:
            row["val_reconstruction_error"] = reconstruction_error(rbm, val_x)
            row["val_pseudo_log_likelihood"] = pseudo_log_likelihood(
                rbm, val_x, None if rbm.cfg.visible <= 256 else torch.Generator(device=device).manual_seed(epoch))
        row["wall_time"] = time.perf_counter() - start
        history.append(row)
        for callback in callbacks:
            callback(EpochLog(epoch, row, True))
        if train.schedule in ("step", "cosine"):
            sched.step()
        elif train.schedule == "plateau":
            sched.step(row.get("val_reconstruction_error", row["train_reconstruction_error"]))
    return RBMFit(history, chains, time.perf_counter() - start)


def pretrain_dbn(
    dbn: DBN,
    x: torch.Tensor,
    cd: CDConfig,
    train: TrainConfig,
    start_layer: int = 0,
    val_x: torch.Tensor | None = None,
    callbacks: Callable[[int], Sequence[Callback]] = lambda layer: (),
) -> list[RBMFit]:
    """Greedy layer-wise pretraining: RBM ``l`` (from ``start_layer`` up; lower ones are taken as
    trained) is fitted to the hidden probabilities of RBMs ``0..l-1`` on ``x [n, V]``. Mutates
    ``dbn``; ``callbacks(l)`` are the callbacks of layer ``l``'s epochs."""
    fits: list[RBMFit] = []
    for layer in range(start_layer, len(dbn.rbms)):
        below = propagate_up(dbn, x, layer)
        below_val = propagate_up(dbn, val_x, layer) if val_x is not None else None
        fits.append(fit_rbm(dbn.rbms[layer], below, cd, train, below_val, callbacks(layer)))
    return fits


def train_dbn(
    cfg: RBMTask,
    first: BernoulliRBM,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    n_classes: int,
    stage: Callable[[str], list[Callback]],
) -> tuple[DBN, MLP, MLP, dict[str, Any]]:
    """Stack a copy of ``first`` and greedily trained RBMs into a DBN, fine-tune its MLP, and train
    the same MLP from random init with the same budget, on flat binary ``(x [n, V], y [n])``.
    Returns ``(dbn, fine-tuned MLP, scratch MLP, metrics)``."""
    dbn = DBN(DBNConfig(visible=first.cfg.visible, hidden=(first.cfg.hidden, *cfg.dbn_hidden))).to(first.weight.device)
    dbn.rbms[0].load_state_dict(first.state_dict())
    pretrain_dbn(dbn, train_data[0], cfg.cd_config(cfg.dbn_method), cfg.rbm_train, start_layer=1, val_x=val_data[0],
                 callbacks=lambda layer: stage(f"dbn-layer{layer + 1}"))
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


def sklearn_rbm_pipeline(cfg: RBMTask, data: ImageSplits) -> dict[str, float]:
    """scikit-learn's ``BernoulliRBM`` (PCD-1, ``hidden`` units, ``rbm_train.epochs`` passes, its
    example's learning rate 0.06 and batch size 10) + ``LogisticRegression`` on the same binarized
    split, C picked on validation from the same L2 grid (``C = 1 / (l2 * n)``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM

    x = {name: binarize(part[0], cfg.binarize_threshold).numpy() for name, part in data._asdict().items()}
    y = {name: part[1].numpy() for name, part in data._asdict().items()}
    start = time.perf_counter()
    sk = SkBernoulliRBM(n_components=cfg.hidden, learning_rate=0.06, batch_size=10, n_iter=cfg.rbm_train.epochs,
                        random_state=cfg.rbm_train.seed).fit(x["train"])
    features = {name: sk.transform(v) for name, v in x.items()}
    best: tuple[float, float, float] | None = None  # (val accuracy, test accuracy, l2)
    for l2 in sorted(cfg.l2_grid, reverse=True):
        C = 1.0 / (max(l2, 1e-12) * len(y["train"]))
        clf = LogisticRegression(C=C, max_iter=2000).fit(features["train"], y["train"])
        val = float(clf.score(features["val"], y["val"])) if len(y["val"]) else 0.0
        if best is None or val > best[0]:
            best = (val, float(clf.score(features["test"], y["test"])), l2)
    assert best is not None
    return {"sklearn_rbm_accuracy": best[1], "sklearn_rbm_l2": best[2], "sklearn_rbm_wall_time": time.perf_counter() - start}


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

