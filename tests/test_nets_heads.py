"""nets RL heads and init schemes: the dueling Q head, masked logits, the categorical and
Gaussian policy heads' math against torch.distributions, and init_weights' statistics.
The MLP and conv nets themselves are in tests/test_nets_blocks.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nets.conv import PolicyValueNet, ResNetConfig
from nets.heads import (CategoricalPolicyHead, DuelingQHead, GaussianPolicyHead, categorical_log_prob_entropy,
                        gaussian_entropy, gaussian_log_prob, masked_logits)
from nets.init import init_weights
from nets.mlp import MLP, MLPConfig
from nets_checks import assert_all_params_get_grads


# ---------------------------------------------------------------- heads


@pytest.mark.parametrize("hidden", [0, 16])
def test_dueling_head_identity_and_grads(hidden: int) -> None:
    torch.manual_seed(0)
    head = DuelingQHead(in_features=6, num_actions=5, hidden=hidden)
    x = torch.randn(7, 6)
    q = head(x)
    value, advantage = head.value_and_advantage(x)
    assert q.shape == (7, 5) and value.shape == (7,) and advantage.shape == (7, 5)
    # Mean advantage removed: Q averages to V, and Q - V is the centred advantage.
    torch.testing.assert_close(q.mean(dim=-1), value)
    torch.testing.assert_close(q - value[:, None], advantage - advantage.mean(dim=-1, keepdim=True))
    assert_all_params_get_grads(head, q)


def test_dueling_head_gradcheck() -> None:
    torch.manual_seed(0)
    head = DuelingQHead(in_features=4, num_actions=3, hidden=5).double()
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(head, (x,))


def test_masked_logits_zero_probability_on_illegal_moves() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 6) * 50  # large logits: the mask must still win
    mask = torch.tensor(
        [
            [True, False, True, False, True, False],
            [False, False, False, False, False, True],
            [True] * 6,
            [False] * 6,  # no legal move (a finished game)
        ]
    )
    masked = masked_logits(logits, mask)
    assert torch.isfinite(masked).all()
    torch.testing.assert_close(masked[mask], logits[mask])
    probs = torch.softmax(masked, dim=-1)
    assert not torch.isnan(probs).any()
    assert (probs[:3][~mask[:3]] == 0).all()
    torch.testing.assert_close(probs[1, 5], torch.tensor(1.0))
    torch.testing.assert_close(probs[3], torch.full((6,), 1 / 6))  # documented: uniform
    lp, ent = categorical_log_prob_entropy(masked, torch.tensor([2, 5, 0, 1]))
    assert torch.isfinite(lp).all() and torch.isfinite(ent).all()
    torch.testing.assert_close(ent[1], torch.tensor(0.0))  # one legal move: no uncertainty
    # Gradients reach only legal logits and contain no NaN, even for the all-False row.
    logits.requires_grad_(True)
    torch.log_softmax(masked_logits(logits, mask), dim=-1)[:, 0].sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad[~mask] == 0).all()


def test_masked_logits_sampling_never_picks_illegal() -> None:
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(64, 10, generator=gen) < 0.3
    mask[:, 3] = True
    logits = masked_logits(torch.randn(64, 10, generator=gen), mask)
    actions = torch.multinomial(torch.softmax(logits, -1), 50, replacement=True, generator=gen)
    assert mask.gather(1, actions).all()


def test_categorical_head_and_log_prob_entropy_match_torch() -> None:
    torch.manual_seed(0)
    head = CategoricalPolicyHead(in_features=5, num_actions=7)
    features = torch.randn(6, 5)
    mask = torch.rand(6, 7) < 0.6
    mask[:, 0] = True
    for legal in (None, mask):
        logits = head(features, legal)
        assert logits.shape == (6, 7)
        dist = torch.distributions.Categorical(logits=logits)
        action = dist.sample()
        log_prob, entropy = categorical_log_prob_entropy(logits, action)
        torch.testing.assert_close(log_prob, dist.log_prob(action))
        torch.testing.assert_close(entropy, dist.entropy())
    assert_all_params_get_grads(head, head(features))


def test_categorical_log_prob_entropy_with_infinite_logits() -> None:
    """-inf logits (masked by a caller with -inf instead of masked_logits) give probability 0
    and must not turn the entropy into NaN (0 * -inf)."""
    logits = torch.tensor([[0.3, -math.inf, 1.2, -math.inf], [-math.inf, 2.0, -math.inf, -math.inf]])
    action = torch.tensor([2, 1])
    log_prob, entropy = categorical_log_prob_entropy(logits, action)
    dist = torch.distributions.Categorical(logits=logits)
    assert torch.isfinite(entropy).all()
    torch.testing.assert_close(log_prob, dist.log_prob(action))
    torch.testing.assert_close(entropy, dist.entropy())
    torch.testing.assert_close(entropy[1], torch.tensor(0.0))


@pytest.mark.parametrize("state_dependent_std", [False, True])
def test_gaussian_head_and_math_match_torch(state_dependent_std: bool) -> None:
    torch.manual_seed(0)
    head = GaussianPolicyHead(in_features=5, action_dim=3, state_dependent_std=state_dependent_std,
                              init_log_std=-0.5)
    features = torch.randn(8, 5)
    mean, log_std = head(features)
    assert mean.shape == (8, 3) and log_std.shape == (8, 3)
    torch.testing.assert_close(log_std, torch.full((8, 3), -0.5))  # initial value, any state
    assert_all_params_get_grads(head, mean, log_std)

    log_std = torch.randn(8, 3) * 0.5  # exercise a varied std, not just the initial one
    dist = torch.distributions.Normal(mean.detach(), log_std.exp())
    action = dist.sample()
    expected = dist.log_prob(action).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(mean.detach(), log_std, action), expected)
    torch.testing.assert_close(gaussian_entropy(log_std), dist.entropy().sum(-1))


def test_gaussian_head_state_dependence() -> None:
    torch.manual_seed(0)
    features = torch.randn(4, 5)
    shared = GaussianPolicyHead(5, 2, state_dependent_std=False)
    dependent = GaussianPolicyHead(5, 2, state_dependent_std=True)
    with torch.no_grad():
        dependent.log_std.weight.normal_()
    assert isinstance(shared.log_std, nn.Parameter)
    assert torch.equal(shared(features).log_std[0], shared(features).log_std[3])
    assert not torch.equal(dependent(features).log_std[0], dependent(features).log_std[3])
    with pytest.raises(ValueError, match="init_log_std"):
        GaussianPolicyHead(5, 2, init_log_std=5.0)


# ---------------------------------------------------------------- init


def _std(t: torch.Tensor) -> float:
    return t.detach().std().item()


@pytest.mark.parametrize(
    ("layer", "fan_in", "fan_out"),
    [(nn.Linear(1024, 512), 1024, 512), (nn.Conv2d(64, 128, 3), 64 * 9, 128 * 9)],
    ids=["linear", "conv"],
)
@pytest.mark.parametrize(
    ("scheme", "expected_std"),
    [
        ("he_normal", lambda fi, fo: math.sqrt(2 / fi)),
        ("he_uniform", lambda fi, fo: math.sqrt(2 / fi)),
        ("xavier_normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
        ("xavier_uniform", lambda fi, fo: math.sqrt(2 / (fi + fo))),
        ("default", lambda fi, fo: math.sqrt(1 / (3 * fi))),  # torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    ],
)
def test_init_weight_std(layer: nn.Module, fan_in: int, fan_out: int, scheme: str, expected_std) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        layer.weight.fill_(3.0)
        layer.bias.fill_(3.0)
    net = nn.Sequential(layer, nn.ReLU())
    assert init_weights(net, scheme) is net
    target = expected_std(fan_in, fan_out)
    assert abs(_std(layer.weight) / target - 1) < 0.03, (scheme, _std(layer.weight), target)
    assert abs(layer.weight.mean().item()) < 0.05 * target
    if scheme == "default":
        assert layer.bias.abs().max() <= 1 / math.sqrt(fan_in) and layer.bias.abs().max() > 0
    else:
        assert (layer.bias == 0).all()
    if scheme.endswith("uniform"):
        bound = target * math.sqrt(3)  # U(-b, b) has std b / sqrt(3)
        assert layer.weight.abs().max() <= bound + 1e-6


def test_init_gain_scales_weights() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(2048, 256)
    init_weights(layer, "he_normal", gain=0.5)
    assert abs(_std(layer.weight) / (0.5 / math.sqrt(2048)) - 1) < 0.03
    init_weights(layer, "xavier_uniform", gain=2.0)
    assert abs(_std(layer.weight) / (2.0 * math.sqrt(2 / (2048 + 256))) - 1) < 0.03


@pytest.mark.parametrize("gain", [None, math.sqrt(2)])
def test_init_orthogonal(gain: float | None) -> None:
    torch.manual_seed(0)
    mlp = MLP(MLPConfig(in_features=32, out_features=8, hidden=(32, 32)))
    init_weights(mlp, "orthogonal", gain=gain)
    g = 1.0 if gain is None else gain
    for layer in mlp.linear_layers():
        w = layer.weight.detach()  # (out, in) with out <= in: orthogonal rows
        torch.testing.assert_close(w @ w.T, g**2 * torch.eye(w.shape[0]), atol=1e-4, rtol=0)
        assert (layer.bias == 0).all()


def test_init_touches_only_linear_and_conv() -> None:
    torch.manual_seed(0)
    net = PolicyValueNet(ResNetConfig(in_channels=2, board_size=3, num_actions=9, blocks=1, channels=4))
    with torch.no_grad():
        for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.weight.fill_(0.7)
    before = {name: p.clone() for name, p in net.named_parameters()}
    init_weights(net, "he_normal")
    params = dict(net.named_parameters())
    for module_name, module in net.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            assert not torch.equal(params[f"{module_name}.weight"], before[f"{module_name}.weight"])
        elif isinstance(module, nn.BatchNorm2d):
            for suffix in ("weight", "bias"):
                key = f"{module_name}.{suffix}"
                assert torch.equal(params[key], before[key]), key
    with pytest.raises(ValueError, match="unknown init scheme"):
        init_weights(net, "lecun")
    with pytest.raises(ValueError, match="gain"):
        init_weights(net, "default", gain=2.0)
