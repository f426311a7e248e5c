"""Convolutional networks: a LeNet-like classifier (digits, MNIST), a GoogLeNet inception
block, the AlphaZero residual tower with its policy and value heads, and the Nature DQN's
conv tower over stacked Atari frames.

All sizes come from configs at construction; nothing depends on a board size at import.
The forward passes branch only on Python values fixed at construction (never on tensor
values), so they trace under ``torch.compile`` and run in ``channels_last`` memory format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn


@dataclass(frozen=True)
class CNNConfig:
    """A LeNet-like classifier: conv blocks, then flatten -> hidden -> class logits."""

    in_channels: int
    """Channels of the input image (1 for grey digits)."""
    image_size: int
    """Height and width of the (square) input image, e.g. 8 for sklearn digits, 28 for MNIST."""
    channels: tuple[int, ...] = (32, 64)
    """Output channels of each conv block, in order."""
    kernel_size: int = 3
    """Odd square kernel of every conv ('same' padding keeps the map size)."""
    pool: bool = True
    """2x2 max pool after each conv block, skipped once the map is already 1x1."""
    batch_norm: bool = False
    """BatchNorm2d between each conv and its ReLU."""
    dropout: float = 0.0
    """Dropout probability on the flattened features and on the hidden layer (0 disables it)."""
    hidden: int = 128
    """Width of the fully connected hidden layer."""
    num_classes: int = 10
    """Number of output logits."""

    def __post_init__(self) -> None:
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if min(self.in_channels, self.image_size, self.hidden, self.num_classes) < 1:
            raise ValueError(f"in_channels, image_size, hidden and num_classes must be >= 1: {self}")
        if not isinstance(self.channels, tuple) or any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be a tuple of positive ints, got {self.channels!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def final_size(self) -> int:
        """Height/width of the feature map after the last conv block."""
        size = self.image_size
        for _ in self.channels:
            size = _pooled_size(size) if self.pool else size
        return size


class CNN(nn.Module):
    """LeNet-style classifier: ``[conv -> (BN) -> ReLU -> (maxpool)] * n -> FC -> ReLU -> FC``.

    Pooling halves the map (floor) while it is at least 2x2, so an 8x8 input with three
    blocks goes 8 -> 4 -> 2 -> 1 and a 28x28 input goes 28 -> 14 -> 7 -> 3.
    """

    def __init__(self, cfg: CNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        size, c_in = cfg.image_size, cfg.in_channels
        for c_out in cfg.channels:
            layers += _conv_bn_relu(c_in, c_out, cfg.kernel_size, cfg.batch_norm)
            if cfg.pool and size >= 2:
                layers.append(nn.MaxPool2d(2))
                size = _pooled_size(size)
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(cfg.dropout),
            nn.Linear(c_in * size * size, cfg.hidden),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits.

        Args:
            x: float ``[B, in_channels, image_size, image_size]``.

        Returns:
            float ``[B, num_classes]`` logits (no softmax).
        """
        return self.classifier(self.features(x))


class InceptionBlock(nn.Module):
    """GoogLeNet inception block (Szegedy et al. 2015, fig. 2b): four parallel branches,
    concatenated on channels, each keeping the spatial size.

    Branches: 1x1 conv; 1x1 reduce -> 3x3 conv; 1x1 reduce -> 5x5 conv; 3x3 max pool
    (stride 1) -> 1x1 projection. Every conv is followed by a ReLU.

    Args:
        in_channels: channels of the input map.
        c1: output channels of the 1x1 branch.
        c3_reduce: 1x1 reduction before the 3x3 conv.
        c3: output channels of the 3x3 branch.
        c5_reduce: 1x1 reduction before the 5x5 conv.
        c5: output channels of the 5x5 branch.
        pool_proj: output channels of the pooling branch's 1x1 projection.
    """

    def __init__(
        self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int
    ) -> None:
        super().__init__()
        self.out_channels = c1 + c3 + c5 + pool_proj
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), nn.ReLU())
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_channels, c3_reduce, 1), nn.ReLU(), nn.Conv2d(c3_reduce, c3, 3, padding=1), nn.ReLU()
        )
        self.branch5 = nn.Sequential(
            nn.Conv2d(in_channels, c5_reduce, 1), nn.ReLU(), nn.Conv2d(c5_reduce, c5, 5, padding=2), nn.ReLU()
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_channels, pool_proj, 1), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, H, W] -> [B, c1 + c3 + c5 + pool_proj, H, W]``."""
        branches = (self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x))
        return torch.cat(branches, dim=1)


@dataclass(frozen=True)
class ResNetConfig:
    """The AlphaZero policy-value network: residual tower, policy head, value head."""

    in_channels: int
    """Input planes of the observation (e.g. 17 for AlphaGo Zero's Go encoding)."""
    board_size: int
    """Height and width N of the (square) board."""
    num_actions: int
    """Number of policy logits A (e.g. N*N + 1 for Go with pass)."""
    blocks: int = 6
    """Residual blocks in the tower."""
    channels: int = 64
    """Channels of every conv in the tower."""
    value_hidden: int = 64
    """Width of the value head's hidden layer."""
    policy_channels: int = 2
    """Channels of the policy head's 1x1 conv (2 in AlphaGo Zero)."""
    value_channels: int = 1
    """Channels of the value head's 1x1 conv (1 in AlphaGo Zero)."""
    global_pooling: bool = False
    """KataGo's network (Wu 2019) instead of AlphaGo Zero's: :class:`GlobalPoolingNet`, with
    global pooling bias blocks in the tower, a fully convolutional policy, pooled value and
    score heads and an ownership head. It has no weight tied to ``board_size``, so one network
    plays every board size; ``num_actions`` is then ``N * N`` or ``N * N + 1`` (a pass)."""
    pooling_blocks: bool = True
    """With ``global_pooling``: the tower's global pooling bias blocks (False: plain residual
    blocks, the heads still pool; for ablations)."""

    def __post_init__(self) -> None:
        sizes = (self.in_channels, self.board_size, self.num_actions, self.channels, self.value_hidden,
                 self.policy_channels, self.value_channels)
        if min(sizes) < 1 or self.blocks < 0:
            raise ValueError(f"every size must be >= 1 (blocks >= 0): {self}")


class PolicyValue(NamedTuple):
    """Network output for a batch of positions, from the side to move's point of view."""

    logits: torch.Tensor
    """float [B, A]: unnormalized move scores (mask illegal moves with nets.heads.masked_logits)."""
    value: torch.Tensor
    """float [B]: expected outcome in (-1, 1) for the player to move."""


class PolicyValueAux(NamedTuple):
    """:class:`GlobalPoolingNet`'s output: the policy and value of :class:`PolicyValue` first
    (so code reading ``out[0], out[1]`` takes either network), then the auxiliary heads."""

    logits: torch.Tensor
    """float [B, A]: move scores (the N * N points row-major, then pass when there is one)."""
    value: torch.Tensor
    """float [B]: expected outcome in (-1, 1) for the player to move."""
    ownership: torch.Tensor
    """float [B, N * N]: ownership logits; ``tanh`` of them is the expected owner of each point
    at the end in [-1, 1], +1 the player to move (KataGo's ownership head)."""
    score: torch.Tensor
    """float [B]: expected final score margin for the player to move, in points / (N * N)."""


class ResidualBlock(nn.Module):
    """``conv3x3 -> BN -> ReLU -> conv3x3 -> BN``, plus the input, then ReLU (He et al. 2016).

    Args:
        channels: input and output channels (the spatial size is kept).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn_relu(channels, channels, 3, batch_norm=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, channels, H, W] -> [B, channels, H, W]``."""
        return self.relu(x + self.body(x))


def global_pool(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W] -> [B, 3C]``: the mean, the mean scaled by the board's width
    (``(sqrt(H * W) - 7) / 4``: 0 on 7x7, 0.5 on 9x9, 3 on 19x19) and the max of every channel,
    KataGo's pooling, through which a network learns what differs with the board's size."""
    mean = x.mean((2, 3))
    width = (x.shape[2] * x.shape[3]) ** 0.5
    return torch.cat([mean, mean * ((width - 7.0) / 4.0), x.amax((2, 3))], dim=1)


class GlobalPoolingBlock(nn.Module):
    """A residual block whose first conv's output is split: ``pooled`` channels are globally
    pooled (:func:`global_pool`) into a bias for the other channels, the rest go on to the
    second conv (KataGo's global pooling bias block: a whole-board view in every layer after it,
    for ko fights, life and death of large groups, who is ahead).

    Args:
        channels: input and output channels.
        pooled: channels of the first conv that feed the pooling.
    """

    def __init__(self, channels: int, pooled: int) -> None:
        super().__init__()
        if not 0 < pooled < channels:
            raise ValueError(f"pooled channels must be in 1..{channels - 1}, got {pooled}")
        self.pooled = pooled
        self.first = nn.Sequential(*_conv_bn_relu(channels, channels, 3, batch_norm=True))
        self.bias = nn.Linear(3 * pooled, channels - pooled)
        self.second = nn.Sequential(nn.Conv2d(channels - pooled, channels, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(channels))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, channels, H, W] -> [B, channels, H, W]`` (any H, W)."""
        h = self.first(x)
        g, r = h[:, : self.pooled], h[:, self.pooled:]
        r = r + self.bias(global_pool(g))[:, :, None, None]
        return self.relu(x + self.second(r))


class ResNetTower(nn.Module):
    """A stem ``conv3x3 -> BN -> ReLU`` to ``channels``, then ``blocks`` residual blocks.

    Args:
        in_channels: input planes.
        blocks: number of residual blocks (0 gives the stem only).
        channels: channels of every conv.
        global_pooling: make blocks 1, 4, 7, ... :class:`GlobalPoolingBlock`.
    """

    def __init__(self, in_channels: int, blocks: int, channels: int, global_pooling: bool = False) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn_relu(in_channels, channels, 3, batch_norm=True))
        # With global pooling, blocks 1, 4, 7, ... are pooling blocks (of 4: the second), as
        # KataGo spreads a few of them through the tower.
        self.blocks = nn.Sequential(*(GlobalPoolingBlock(channels, max(1, channels // 4))
                                      if global_pooling and i % 3 == 1 else ResidualBlock(channels)
                                      for i in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, H, W] -> [B, channels, H, W]``."""
        return self.blocks(self.stem(x))


class PolicyValueNet(nn.Module):
    """AlphaZero network (Silver et al. 2017): residual tower with a policy and a value head.

    Policy head: ``1x1 conv -> BN -> ReLU -> Linear`` to ``num_actions`` logits.
    Value head: ``1x1 conv -> BN -> ReLU -> Linear(value_hidden) -> ReLU -> Linear(1) -> tanh``.
    """

    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        area = cfg.board_size * cfg.board_size
        self.tower = ResNetTower(cfg.in_channels, cfg.blocks, cfg.channels)
        self.policy_head = nn.Sequential(
            *_conv_bn_relu(cfg.channels, cfg.policy_channels, 1, batch_norm=True),
            nn.Flatten(),  # (B, policy_channels * N * N), in NCHW order even for channels_last input
            nn.Linear(cfg.policy_channels * area, cfg.num_actions),
        )
        self.value_head = nn.Sequential(
            *_conv_bn_relu(cfg.channels, cfg.value_channels, 1, batch_norm=True),
            nn.Flatten(),  # (B, value_channels * N * N)
            nn.Linear(cfg.value_channels * area, cfg.value_hidden),
            nn.ReLU(),
            nn.Linear(cfg.value_hidden, 1),
            nn.Tanh(),
        )
        # channels_last: oneDNN's convolutions on small boards ran 1.5-2x faster in it on the
        # CPU (3x3 tic-tac-toe at B=128: 3.4 -> 2.3 ms a forward pass), and GPUs prefer it too.
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> PolicyValue:
        """Evaluate a batch of positions.

        Args:
            x: float ``[B, in_channels, N, N]`` planes from the side to move (contiguous or
                ``channels_last``).

        Returns:
            ``PolicyValue(logits [B, num_actions], value [B])``.
        """
        features = self.tower(x.contiguous(memory_format=torch.channels_last))  # (B, channels, N, N)
        return PolicyValue(self.policy_head(features), self.value_head(features).squeeze(-1))


class GlobalPoolingNet(nn.Module):
    """KataGo's network shape (Wu 2019, "Accelerating Self-Play Learning in Go") at our sizes:
    a residual tower with global pooling bias blocks and four heads, none tied to the board's
    size (one network plays 7x7 and 9x9).

    - policy: ``1x1 conv`` to P channels plus a bias pooled from G more channels, ``BN -> ReLU
      -> 1x1 conv`` to one logit per point; the pass logit from the pooled features.
    - value and score: ``1x1 conv -> BN -> ReLU -> global pool -> Linear -> ReLU -> Linear(2)``:
      ``tanh`` of the first output is the value, the second the score margin.
    - ownership: a ``1x1 conv`` of the value head's map to one logit per point.
    """

    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        area = cfg.board_size * cfg.board_size
        if cfg.num_actions not in (area, area + 1):
            raise ValueError(f"a global pooling network plays N*N or N*N+1 actions, got {cfg.num_actions} for N={cfg.board_size}")
        self.has_pass = cfg.num_actions == area + 1
        c, p = cfg.channels, max(cfg.policy_channels, cfg.channels // 4)
        v = max(cfg.value_channels, cfg.channels // 4)
        self.tower = ResNetTower(cfg.in_channels, cfg.blocks, c, global_pooling=cfg.pooling_blocks)
        self.policy_conv = nn.Conv2d(c, p, 1, bias=False)
        self.policy_pool = nn.Sequential(*_conv_bn_relu(c, p, 1, batch_norm=True))
        self.policy_bias = nn.Linear(3 * p, p)
        self.policy_out = nn.Sequential(nn.BatchNorm2d(p), nn.ReLU(), nn.Conv2d(p, 1, 1))
        self.pass_out = nn.Linear(3 * p, 1)
        self.value_conv = nn.Sequential(*_conv_bn_relu(c, v, 1, batch_norm=True))
        self.value_fc = nn.Sequential(nn.Linear(3 * v, cfg.value_hidden), nn.ReLU(), nn.Linear(cfg.value_hidden, 2))
        self.ownership_out = nn.Conv2d(v, 1, 1)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> PolicyValueAux:
        """``[B, in_channels, N, N]`` planes (any N) -> :class:`PolicyValueAux`."""
        features = self.tower(x.contiguous(memory_format=torch.channels_last))
        pooled = global_pool(self.policy_pool(features))  # (B, 3p)
        policy = self.policy_conv(features) + self.policy_bias(pooled)[:, :, None, None]
        logits = self.policy_out(policy).flatten(1)  # (B, N*N): one channel, so any memory layout
        if self.has_pass:
            logits = torch.cat([logits, self.pass_out(pooled)], dim=1)
        value_map = self.value_conv(features)
        value, score = self.value_fc(global_pool(value_map)).unbind(-1)
        ownership = self.ownership_out(value_map).flatten(1)
        return PolicyValueAux(logits, torch.tanh(value), ownership, score)


class NatureTower(nn.Module):
    """The Nature DQN's conv tower (Mnih et al. 2015): ``conv 32 8x8 stride 4 -> ReLU -> conv 64
    4x4 stride 2 -> ReLU -> conv 64 3x3 stride 1 -> ReLU -> flatten`` (no padding).

    A ``[B, 4, 84, 84]`` frame stack gives ``[B, 3136]`` (64 maps of 7x7). The input is taken
    as it comes: scaling pixels to [0, 1] is the caller's job.

    Args:
        in_channels: stacked frames (4 in the DQN pipeline).
        image_size: ``(height, width)`` of the input; sets ``out_features``.
    """

    LAYERS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
    """(out channels, kernel, stride) of each conv."""

    def __init__(self, in_channels: int, image_size: tuple[int, int] = (84, 84)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        (h, w), c_in = image_size, in_channels
        for c_out, kernel, stride in self.LAYERS:
            layers += [nn.Conv2d(c_in, c_out, kernel, stride), nn.ReLU()]
            h, w, c_in = (h - kernel) // stride + 1, (w - kernel) // stride + 1, c_out
        if min(h, w) < 1:
            raise ValueError(f"NatureTower needs images of at least 36x36, got {image_size}")
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.out_features = c_in * h * w
        """Width of the flattened features (3136 for 84x84)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, H, W]`` float -> ``[B, out_features]``."""
        return self.convs(x)


def _conv_bn_relu(c_in: int, c_out: int, kernel_size: int, batch_norm: bool) -> list[nn.Module]:
    """``conv ('same' padding) -> (BN) -> ReLU`` as a list of layers; the conv has no bias
    under BN (BN's shift makes it redundant)."""
    conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
    return [conv, nn.BatchNorm2d(c_out), nn.ReLU()] if batch_norm else [conv, nn.ReLU()]


def _pooled_size(size: int) -> int:
    """Map size after a 2x2 max pool, which is skipped (size kept) once the map is 1x1."""
    return size // 2 if size >= 2 else size
