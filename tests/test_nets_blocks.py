"""nets building blocks: the MLP, and the CNN/Inception and ResNet policy-value nets.

Shapes over config grids, gradients (finite and non-zero everywhere, gradcheck in float64),
channels-last and torch.compile checks, and one learning sanity check. The RL heads and the
init schemes are in tests/test_nets_heads.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nets.conv import (CNN, CNNConfig, InceptionBlock, PolicyValue, PolicyValueNet, ResidualBlock,
                        ResNetConfig, ResNetTower)
from nets.mlp import MLP, MLPConfig, activation
from nets_checks import assert_all_params_get_grads

ACTIVATIONS = ["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "identity"]


# ---------------------------------------------------------------- MLP


@pytest.mark.parametrize(
    "cfg",
    [
        MLPConfig(in_features=5, out_features=3),
        MLPConfig(in_features=5, out_features=1, hidden=()),
        MLPConfig(in_features=7, out_features=2, hidden=(16, 16, 16), residual=True, norm="layer"),
        MLPConfig(in_features=4, out_features=6, hidden=(8, 32), norm="batch", dropout=0.2),
        MLPConfig(in_features=3, out_features=2, hidden=(8,), activation="tanh", output_activation="sigmoid"),
    ],
    ids=["default", "linear", "residual-layernorm", "batchnorm-dropout", "tanh-sigmoid"],
)
def test_mlp_shapes_and_grads(cfg: MLPConfig) -> None:
    torch.manual_seed(0)
    net = MLP(cfg)
    x = torch.randn(9, cfg.in_features)
    y = net(x)
    assert y.shape == (9, cfg.out_features)
    assert len(net.hidden_layers()) == len(cfg.hidden)
    assert [layer.out_features for layer in net.hidden_layers()] == list(cfg.hidden)
    assert net.linear_layers()[-1] is net.output
    assert_all_params_get_grads(net, y)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_names(name: str) -> None:
    x = torch.linspace(-3, 3, 13)
    y = activation(name)(x)
    expected = {
        "relu": torch.relu(x), "tanh": torch.tanh(x), "sigmoid": torch.sigmoid(x),
        "gelu": nn.functional.gelu(x), "elu": nn.functional.elu(x),
        "leaky_relu": nn.functional.leaky_relu(x, 0.01), "identity": x,
    }[name]
    torch.testing.assert_close(y, expected)
    net = MLP(MLPConfig(in_features=2, out_features=2, hidden=(4,), activation=name))
    assert net(torch.randn(3, 2)).shape == (3, 2)


def test_bad_names_raise() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        activation("swish")
    with pytest.raises(ValueError, match="activation"):
        MLPConfig(in_features=2, out_features=2, activation="swish")
    with pytest.raises(ValueError, match="norm"):
        MLPConfig(in_features=2, out_features=2, norm="group")
    with pytest.raises(TypeError, match="tuple"):
        MLPConfig(in_features=2, out_features=2, hidden=[4, 4])


def test_mlp_residual_adds_skip() -> None:
    """With residual=True and zeroed hidden weights/biases, relu(0) = 0, so each equal-width
    layer passes its input through unchanged; without residual the signal is zeroed."""
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    for residual in (False, True):
        net = MLP(MLPConfig(in_features=6, out_features=6, hidden=(6, 6), residual=residual))
        with torch.no_grad():
            for layer in net.hidden_layers():
                layer.weight.zero_()
                layer.bias.zero_()
            net.output.weight.copy_(torch.eye(6))
            net.output.bias.zero_()
        expected = x if residual else torch.zeros_like(x)
        torch.testing.assert_close(net(x), expected)


@pytest.mark.parametrize(
    "cfg",
    [
        MLPConfig(in_features=3, out_features=2, hidden=(5, 5), activation="tanh", residual=True),
        MLPConfig(in_features=3, out_features=2, hidden=(4,), activation="elu", norm="layer"),
    ],
    ids=["tanh-residual", "elu-layernorm"],
)
def test_mlp_gradcheck(cfg: MLPConfig) -> None:
    torch.manual_seed(0)
    net = MLP(cfg).double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,))


def test_mlp_learns_xor() -> None:
    torch.manual_seed(0)
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    net = MLP(MLPConfig(in_features=2, out_features=1, hidden=(8,), activation="tanh"))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert torch.equal((net(x) > 0).float(), y)


# ---------------------------------------------------------------- CNN / Inception


@pytest.mark.parametrize(
    ("cfg", "final_size"),
    [
        (CNNConfig(in_channels=1, image_size=8), 2),
        (CNNConfig(in_channels=1, image_size=8, channels=(8, 8, 8, 8), batch_norm=True), 1),
        (CNNConfig(in_channels=1, image_size=28, channels=(8, 16), dropout=0.3), 7),
        (CNNConfig(in_channels=1, image_size=28, channels=(8, 8, 8), kernel_size=5), 3),
        (CNNConfig(in_channels=3, image_size=8, channels=(4,), pool=False, num_classes=4), 8),
    ],
    ids=["digits", "digits-deep-bn", "mnist", "mnist-k5", "no-pool"],
)
def test_cnn_shapes_and_grads(cfg: CNNConfig, final_size: int) -> None:
    torch.manual_seed(0)
    assert cfg.final_size == final_size
    net = CNN(cfg)
    x = torch.randn(3, cfg.in_channels, cfg.image_size, cfg.image_size)
    y = net(x)
    assert y.shape == (3, cfg.num_classes)
    assert net.features(x).shape == (3, cfg.channels[-1], final_size, final_size)
    assert_all_params_get_grads(net, y)


def test_cnn_rejects_even_kernel() -> None:
    with pytest.raises(ValueError, match="odd"):
        CNNConfig(in_channels=1, image_size=8, kernel_size=4)


@pytest.mark.parametrize(
    "sizes", [(16, 4, 8, 8, 2, 4, 4), (3, 2, 1, 3, 1, 2, 5)], ids=["wide", "narrow"]
)
def test_inception_block(sizes: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    in_channels, c1, _, c3, _, c5, pool_proj = sizes
    block = InceptionBlock(*sizes)
    x = torch.randn(2, in_channels, 7, 5)
    y = block(x)
    assert block.out_channels == c1 + c3 + c5 + pool_proj
    assert y.shape == (2, c1 + c3 + c5 + pool_proj, 7, 5)
    # The 1x1 branch comes first in the concatenation.
    torch.testing.assert_close(y[:, :c1], block.branch1(x))
    assert_all_params_get_grads(block, y)


# ---------------------------------------------------------------- ResNet policy-value net


def test_residual_block_and_tower_shapes() -> None:
    torch.manual_seed(0)
    block = ResidualBlock(8)
    x = torch.randn(2, 8, 5, 5)
    assert block(x).shape == x.shape
    assert (block(x) >= 0).all()  # the final ReLU
    # With the last BN's scale and shift at zero the body outputs 0: only the skip remains.
    with torch.no_grad():
        block.body[-1].weight.zero_()
        block.body[-1].bias.zero_()
    torch.testing.assert_close(block(x), torch.relu(x))
    tower = ResNetTower(in_channels=3, blocks=2, channels=8)
    y = tower(torch.randn(2, 3, 5, 5))
    assert y.shape == (2, 8, 5, 5)
    assert len(tower.blocks) == 2
    assert_all_params_get_grads(tower, y)


@pytest.mark.parametrize(
    "cfg",
    [
        ResNetConfig(in_channels=17, board_size=9, num_actions=82),
        ResNetConfig(in_channels=3, board_size=3, num_actions=9, blocks=1, channels=8, value_hidden=8),
        ResNetConfig(in_channels=4, board_size=5, num_actions=26, blocks=0, channels=4),
    ],
    ids=["go9-default", "tictactoe", "go5-stem-only"],
)
def test_policy_value_net_shapes_and_grads(cfg: ResNetConfig) -> None:
    torch.manual_seed(0)
    net = PolicyValueNet(cfg)
    x = torch.randn(4, cfg.in_channels, cfg.board_size, cfg.board_size)
    out = net(x)
    assert isinstance(out, PolicyValue)
    assert out.logits.shape == (4, cfg.num_actions)
    assert out.value.shape == (4,)
    assert ((out.value > -1) & (out.value < 1)).all()
    assert_all_params_get_grads(net, out.logits, out.value)


def _trained_bn_net() -> PolicyValueNet:
    """A small net whose BatchNorm running statistics are no longer the identity."""
    torch.manual_seed(0)
    net = PolicyValueNet(ResNetConfig(in_channels=17, board_size=9, num_actions=82, blocks=2, channels=16))
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 17, 9, 9) * 2 + 0.5)
    return net.eval()


def test_policy_value_net_channels_last_matches_contiguous() -> None:
    net = _trained_bn_net()
    x = torch.randn(5, 17, 9, 9)
    with torch.no_grad():
        expected = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        x_cl = x.to(memory_format=torch.channels_last)
        assert x_cl.is_contiguous(memory_format=torch.channels_last)
        got = net_cl(x_cl)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.value, expected.value, atol=1e-5, rtol=1e-5)


def test_policy_value_net_compiles_without_graph_breaks() -> None:
    """fullgraph=True fails on any graph break (e.g. Python branching on tensor values); the
    eager backend checks tracing without needing a C++ toolchain."""
    net = _trained_bn_net()
    x = torch.randn(3, 17, 9, 9)
    compiled = torch.compile(net, backend="eager", fullgraph=True)
    with torch.no_grad():
        got, expected = compiled(x), net(x)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.value, expected.value)
