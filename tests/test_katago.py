"""KataGo's efficiencies in our AlphaZero: ownership and score targets, the global pooling
network, playout cap randomization, resignation, and the files of a long run."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import envs
from agents.alphazero import (AlphaZeroConfig, PositionBuffer, Samples, SelfPlay, aux_loss_terms, loss_terms,
                              make_network, random_symmetries)
from agents.mcts import MCTSConfig
from nets.conv import GlobalPoolingNet, PolicyValueAux, ResNetConfig, ResNetTower

GO5 = AlphaZeroConfig(game="go", size=5, blocks=2, channels=16, games=8, search=MCTSConfig(simulations=4),
                      global_pooling=True, ownership_weight=1.5, score_weight=0.5, random_opening=0,
                      buffer_size=4096)


def _play(cfg: AlphaZeroConfig, net: nn.Module, steps: int, seed: int = 0) -> list:
    game = cfg.make_game()
    sp = SelfPlay(game, cfg, torch.device("cpu"), torch.Generator().manual_seed(seed))
    return [sp.step(net) for _ in range(steps)]


def test_ownership_is_area_scoring_point_by_point():
    game = envs.make("go", size=5, komi=0.5)
    state = game.from_ascii("""
        .X.O.
        XX.OO
        ...O.
        XXXOO
        ..XO.""")
    owner = game.ownership(state).view(5, 5).tolist()
    assert owner[0] == [1, 1, 0, -1, -1]  # C5 touches both colours: nobody's
    assert owner[2] == [0, 0, 0, -1, -1]  # A3-C3 reach black and white (via C4, C5)
    assert owner[4] == [1, 1, 1, -1, -1]
    areas = game.areas(state)[0].tolist()
    assert areas == [sum(v == 1 for row in owner for v in row), sum(v == -1 for row in owner for v in row)]


def test_one_pooling_network_plays_every_board_size():
    cfg = ResNetConfig(in_channels=9, board_size=9, num_actions=82, blocks=4, channels=32, value_hidden=32,
                       global_pooling=True)
    net = GlobalPoolingNet(cfg).eval()
    for n in (5, 7, 9, 13):
        out = net(torch.rand(2, 9, n, n))
        assert isinstance(out, PolicyValueAux)
        assert out.logits.shape == (2, n * n + 1) and out.ownership.shape == (2, n * n)
        assert out.value.shape == out.score.shape == (2,) and bool((out.value.abs() < 1).all())


def test_global_pooling_sees_the_far_corner():
    """Five 3x3 convs see 5 points away; a corner stone is 8 away from the opposite corner on
    9x9. Without pooling that corner's features cannot change; with it, they do."""
    x = torch.zeros(1, 3, 9, 9)
    moved = x.clone()
    moved[0, 0, 0, 0] = 1.0  # a stone at the top-left corner
    for pooling, changes in ((False, False), (True, True)):
        torch.manual_seed(0)
        tower = ResNetTower(3, blocks=2, channels=16, global_pooling=pooling).eval()
        with torch.no_grad():
            far = (tower(moved) - tower(x))[0, :, 8, 8].abs().max()
        assert (far > 1e-6) == changes


def test_self_play_targets_are_the_final_board_from_the_movers_view():
    torch.manual_seed(0)
    game = GO5.make_game()
    net = make_network(game, GO5).eval()
    finished = [f for f in _play(GO5, net, 60) if len(f.lengths)]
    assert finished
    f = finished[0]
    n = int(f.lengths[0])
    s = f.samples
    # Replay the first game to its end: its final ownership is every target, signed by the mover.
    state = envs.make("go", size=5).init(1)
    for a in f.actions[0]:
        state = game.step(state, torch.tensor([a]))
    final = game.ownership(state)[0].float()
    margin = float(final.sum()) - game.komi
    for t in range(n):
        sign = 1.0 if t % 2 == 0 else -1.0  # no random opening: black moved at even t
        assert torch.equal(s.ownership[t].float(), sign * final)
        assert s.score[t].item() == pytest.approx(sign * margin / 25)
    assert bool((s.aux_weight[:n] == 1).all()) and bool((s.policy_weight == 1).all())


def test_playout_cap_marks_cheap_moves_and_the_policy_loss_skips_them():
    cfg = dataclasses.replace(GO5, full_search_fraction=0.3, cheap_simulations=2)
    net = make_network(cfg.make_game(), cfg).eval()
    weights = torch.cat([f.samples.policy_weight for f in _play(cfg, net, 60)])
    assert 0.1 < float(weights.mean()) < 0.5 and set(weights.tolist()) == {0.0, 1.0}
    logits = torch.randn(4, 3)
    target = torch.softmax(torch.randn(4, 3), -1)
    value = torch.zeros(4)
    keep = torch.tensor([1.0, 0.0, 1.0, 0.0])
    loss, _ = loss_terms(logits, value, target, value, keep)
    full, _ = loss_terms(logits[keep > 0], value[:2], target[keep > 0], value[:2])
    assert loss.item() == pytest.approx(full.item())


class _WhiteWins(nn.Module):
    """A stand-in network: uniform policy, and a value that says white has won (-0.99 for
    black to move, +0.99 for white; the last plane is ones when black is to move)."""

    def __init__(self, num_actions: int, points: int) -> None:
        super().__init__()
        self.num_actions, self.points = num_actions, points
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> PolicyValueAux:
        black = x[:, -1, 0, 0]
        value = 0.99 - 1.98 * black
        B = len(x)
        return PolicyValueAux(torch.zeros(B, self.num_actions), value, torch.zeros(B, self.points), torch.zeros(B))


def test_resignation_ends_games_and_played_out_games_measure_false_resigns():
    cfg = dataclasses.replace(GO5, resign_threshold=0.9, resign_playout=0.0)
    game = cfg.make_game()
    net = _WhiteWins(game.num_actions, 25)
    first = _play(cfg, net, 1)[0]  # black, to move first, resigns at once
    assert len(first.lengths) == cfg.games and bool(first.resigned.all()) and first.lengths.tolist() == [1] * 8
    assert first.outcomes.tolist() == [[-1.0, 1.0]] * cfg.games
    assert bool((first.samples.aux_weight == 0).all())  # no final board: no ownership target
    # Played out (resign_playout=1): nobody resigns, each game notes black would have, and the
    # games black did not lose count as false resignations.
    cfg = dataclasses.replace(cfg, resign_playout=1.0)
    done = [f for f in _play(cfg, net, 60) if len(f.lengths)]
    assert done and not any(bool(f.resigned.any()) for f in done)
    checks = torch.cat([f.resign_checks for f in done])
    wrong = torch.cat([f.resign_wrong for f in done])
    black_result = torch.cat([f.outcomes[:, 0] for f in done])
    assert bool(checks.all()) and torch.equal(wrong, black_result >= 0)


def test_buffer_keeps_every_target_and_loads_old_checkpoints():
    buf = PositionBuffer(8, (9, 5, 5), 26, torch.device("cpu"))
    obs = torch.zeros(3, 9, 5, 5, dtype=torch.uint8)
    buf.add(Samples(obs, torch.full((3, 26), 1 / 26), torch.ones(3), torch.ones(3, 25, dtype=torch.int8),
                    torch.full((3,), 0.2), torch.zeros(3), torch.ones(3)))
    saved = buf.tensors()
    assert set(saved) == set(Samples._fields) and saved["score"].tolist() == pytest.approx([0.2] * 3)
    old = PositionBuffer(8, (9, 5, 5), 26, torch.device("cpu"))
    old.load({k: saved[k] for k in ("obs", "policy", "value")})  # a buffer saved before the aux targets
    restored = old.tensors()
    assert bool((restored["policy_weight"] == 1).all()) and bool((restored["aux_weight"] == 0).all())


def test_symmetries_move_ownership_with_the_stones():
    g = torch.Generator().manual_seed(0)
    obs = (torch.rand(64, 3, 5, 5, generator=g) < 0.3).to(torch.uint8)
    owner = obs[:, 0].flatten(1).to(torch.int8)  # ownership equal to the first plane
    batch = Samples(obs, torch.full((64, 26), 1 / 26), torch.zeros(64), owner, torch.zeros(64), torch.ones(64),
                    torch.ones(64))
    out = random_symmetries(batch, 5, torch.Generator().manual_seed(1))
    assert torch.equal(out.ownership, out.obs[:, 0].flatten(1).to(torch.int8))
    assert not torch.equal(out.ownership, owner)


def test_aux_losses_ignore_positions_without_a_final_board():
    logits = torch.zeros(2, 4)
    batch = Samples(torch.zeros(2, 1, 2, 2), torch.zeros(2, 5), torch.zeros(2),
                    torch.tensor([[1, 1, -1, -1], [1, 1, 1, 1]], dtype=torch.int8), torch.tensor([0.5, 9.0]),
                    torch.ones(2), torch.tensor([1.0, 0.0]))
    own, score = aux_loss_terms(logits, torch.zeros(2), batch)
    assert own.item() == pytest.approx(float(torch.log(torch.tensor(2.0))))  # 50/50 on every point
    assert score.item() == pytest.approx(0.25)  # the second row (9.0) is masked


def test_aux_weights_need_the_pooling_network():
    with pytest.raises(ValueError, match="global_pooling"):
        AlphaZeroConfig(game="go", ownership_weight=1.0)


def test_search_player_shows_the_territory_estimate():
    from arena.selfplay.alphazero import SearchPlayer
    from agents.mcts import network_evaluator

    game = envs.make("go", size=5)
    net = make_network(game, GO5).eval()
    player = SearchPlayer("t", network_evaluator(game, net), MCTSConfig(simulations=2), net)
    _, thinking = player.act(game, game.init(1))
    assert thinking.ownership is not None and len(thinking.ownership) == 25
    assert all(-1 <= o <= 1 for o in thinking.ownership)


def test_mixed_sizes_train_one_network_on_two_boards(tmp_path):
    from arena.io import checkpoint as ckpt
    from arena.selfplay.alphazero import TrainOptions, load_network, train

    cfg = dataclasses.replace(GO5, mixed_sizes=(6,), games=4, min_buffer=32, batch_size=32, full_search_fraction=0.5,
                              cheap_simulations=2, resign_threshold=0.9)
    opts = TrainOptions(seconds=8, eval_every=4, eval_games=4, seed=0)
    final = train(cfg, opts, tmp_path / "run")
    assert final["step"] > 0 and final["games"] > 0
    assert (tmp_path / "run" / "checkpoints" / "buffer-6x6.safetensors").exists()
    game, net, saved = load_network(tmp_path / "run")
    assert saved.mixed_sizes == (6,)
    for n in (5, 6):  # the one network plays both boards
        out = net(envs.make("go", size=n).observe(envs.make("go", size=n).init(2)))
        assert out.logits.shape == (2, n * n + 1)
    # resumed, the second board's buffer comes back
    from arena.selfplay.alphazero import extra_boards

    saved_buffer = ckpt.load_tensors(tmp_path / "run" / "checkpoints" / "buffer-6x6.safetensors")
    board, = extra_boards(cfg, dataclasses.replace(opts, resume=True), tmp_path / "run", torch.device("cpu"),
                           torch.Generator().manual_seed(0))
    assert board.buffer.size == len(saved_buffer["value"]) > 0


def test_mixed_sizes_need_the_pooling_network():
    with pytest.raises(ValueError, match="mixed_sizes"):
        AlphaZeroConfig(game="go", mixed_sizes=(7,))


needs_gnugo = pytest.mark.skipif(__import__("arena.go.gnugo", fromlist=["find_gnugo"]).find_gnugo() is None,
                                 reason="GNU Go is not installed (apt-get install gnugo)")


@needs_gnugo
def test_gnugo_games_become_labelled_training_samples():
    from arena.selfplay.bootstrap import BootstrapConfig, gnugo_dataset

    game = envs.make("go", size=5)
    samples, played = gnugo_dataset(game, BootstrapConfig(games=2, levels=(1,), random_opening=2, processes=2), seed=3)
    assert len(played) == 2 and len(samples.value) == sum(len(g.moves) - g.opening for g in played)
    assert torch.equal(samples.policy.sum(1), torch.ones(len(samples.value)))  # one-hot on GNU Go's move
    assert set(samples.value.tolist()) <= {-1.0, 1.0} and samples.obs.dtype == torch.uint8
    # The first game, replayed: each target is its final board from the mover's side.
    g = played[0]
    state = game.init(1)
    for a in g.moves:
        state = game.step(state, torch.tensor([a]))
    n = len(g.moves) - g.opening
    if g.resigned < 0:
        final = game.ownership(state)[0]
        first = samples.ownership[0] * (1 if g.opening % 2 == 0 else -1)
        assert torch.equal(first, final) and bool((samples.aux_weight[:n] == 1).all())


@needs_gnugo
def test_bootstrap_run_says_it_saw_gnugo(tmp_path):
    from arena.io import checkpoint as ckpt
    from arena.selfplay.alphazero import TrainOptions, train

    cfg = dataclasses.replace(GO5, min_buffer=16, batch_size=16)
    final = train(cfg, TrainOptions(seconds=2, eval_every=2, eval_games=2, bootstrap_games=2), tmp_path / "run")
    assert final["bootstrap_games"] == 2 and final["bootstrap_seconds"] > 0 and final["step"] > 0
    assert ckpt.read_sidecar(tmp_path / "run" / "checkpoints" / "best.safetensors")["bootstrap_games"] == 2


def test_bootstrap_without_gnugo_names_the_package(monkeypatch):
    from arena.go.gnugo import GtpEngineError
    from arena.selfplay import bootstrap

    monkeypatch.setattr(bootstrap, "find_gnugo", lambda: None)
    with pytest.raises(GtpEngineError, match="apt-get install gnugo"):
        bootstrap.gnugo_dataset(envs.make("go", size=5), bootstrap.BootstrapConfig(games=1))


def test_sigterm_stops_a_run_with_its_checkpoint_and_plot(tmp_path):
    """A run told to stop (Ctrl-C or SIGTERM) finishes its move, evaluates, saves and plots."""
    import json
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "arena.cli", "train", "tictactoe", "--seconds", "600", "--eval-every", "300",
           "--eval-games", "4", "--games", "16", "--simulations", "4", "--run-dir", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "config.json").exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    time.sleep(3)  # some training
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopping" in err
    final = json.loads((run / "metrics.json").read_text())
    assert final["train_seconds"] < 600 and (run / "checkpoints" / "latest.safetensors").exists()
    assert (run / "plots" / "learning_curve.png").exists()


def test_shipped_networks_are_the_default_opponents():
    from arena.bots.players import make_player, shipped_network
    from arena.commands.gtp import GtpCommand
    from arena.go.gtp import GtpEngine

    assert shipped_network("go", 5) is not None and shipped_network("go", 13) is None
    assert shipped_network("go", 7) is not None and shipped_network("go", 9) is not None
    assert "go7" in make_player("shipped", envs.make("go", size=7)).name
    assert "go5" in make_player("shipped", envs.make("go", size=5)).name
    with pytest.raises(ValueError, match="no network ships"):
        make_player("shipped", envs.make("go", size=13))
    assert "go5" in GtpEngine.from_command(GtpCommand(size=5)).player.name
    assert GtpEngine.from_command(GtpCommand(size=13)).player.name == "mcts"  # no 13x13 network: search


@pytest.mark.parametrize("size", [7, 9])
def test_the_shipped_network_loads_and_beats_random(size):
    from arena.bots.match import make_bot, play_matches
    from arena.bots.networks import load_network, search_bot
    from arena.bots.players import shipped_network

    torch.set_num_threads(1)
    game, net, cfg = load_network(shipped_network("go", size))
    assert game.board_size == size
    play = dataclasses.replace(cfg.play_search(), simulations=8)
    (record,) = play_matches(game, [(search_bot(game, net, play), make_bot("random", game, seed=5))], games=4)
    assert record.result.wins == 4  # 2 as black, 2 as white


def test_a_pooling_network_plays_other_board_sizes(tmp_path):
    from arena.io import checkpoint as ckpt
    from arena.selfplay.alphazero import search_player

    game = GO5.make_game()
    net = make_network(game, GO5)
    path = tmp_path / "net.safetensors"
    ckpt.save_checkpoint(path, net, {"algorithm": "alphazero", "game": "go", "config": dataclasses.asdict(GO5)})
    seven = envs.make("go", size=7)
    player = search_player(seven, path, simulations=2)
    action, thinking = player.act(seven, seven.init(1))
    assert 0 <= action <= 49 and len(thinking.policy) == 50 and len(thinking.ownership) == 49


def test_ablation_variants_change_one_part_each():
    from benchmark_modules import load_benchmark

    from arena.commands.train import preset
    from nets.conv import PolicyValueNet

    module = load_benchmark("go_ablation.py", "go_ablation")
    base = preset("go", 7).cfg
    changed = {v: {f.name for f in dataclasses.fields(base)
                   if getattr(module.variant_config(base, v), f.name) != getattr(base, f.name)}
               for v in module.VARIANTS}
    assert changed["katago"] == set() and changed["no_playout_cap"] == {"full_search_fraction"}
    assert changed["no_tower_pooling"] == {"tower_pooling"} and changed["mixed"] == {"mixed_sizes"}
    assert changed["no_aux"] == {"ownership_weight", "score_weight"}
    assert changed["score_utility"] == {"search", "resign_threshold"}
    assert module.variant_config(base, "score_utility").search.score_utility > 0
    game = base.make_game()
    assert isinstance(make_network(game, module.variant_config(base, "alphazero")), PolicyValueNet)
    plain_tower = make_network(game, module.variant_config(base, "no_tower_pooling")).tower
    assert not any("GlobalPooling" in type(m).__name__ for m in plain_tower.modules())


def test_a_game_spec_builds_the_game_again():
    from envs.spec import GameSpec

    go = envs.make("go", size=7, komi=6.5)
    assert go.spec == GameSpec.of("go", komi=6.5, size=7) and go.spec.make().board_size == 7
    assert GameSpec.from_dict(go.spec.to_dict()) == go.spec and go.spec.to_dict() == {"game": "go", "komi": 6.5, "size": 7}
    uncapped = envs.make_uncapped("go", size=7)
    assert uncapped.max_moves is None and uncapped.spec.make().max_moves is None
    assert envs.make("tictactoe").spec.make().name == "tictactoe"
    with pytest.raises(ValueError, match="unknown game"):
        GameSpec.from_dict({"game": "chess"})
    with pytest.raises(ValueError, match="'game' name"):
        GameSpec.from_dict({"size": 9})


def test_games_write_their_own_results():
    go = envs.make("go", size=5, komi=0.5)
    state = go.init(1)
    assert go.result_text(state) is None
    for _ in range(2):
        state = go.step(state, torch.tensor([go.pass_action]))
    assert go.result_text(state) == "W+0.5"  # an empty board: komi decides
    ttt = envs.make("tictactoe")
    s = ttt.init(1)
    for a in (0, 3, 1, 4, 2):
        s = ttt.step(s, torch.tensor([a]))
    assert ttt.result_text(s) == "X wins" and go.seat_names == ("black", "white") and not ttt.has_pass


def test_self_play_results_name_the_winner_or_the_resignation():
    torch.manual_seed(0)
    cfg = dataclasses.replace(GO5, resign_threshold=0.9, resign_playout=0.0)
    net = _WhiteWins(26, 25)
    first = _play(cfg, net, 1)[0]
    assert first.results == ("W+R",) * cfg.games  # black resigned every game
    played = [f for f in _play(dataclasses.replace(GO5, games=4), make_network(GO5.make_game(), GO5).eval(), 80)
              if len(f.lengths)]
    for f in played:
        for text, outcome in zip(f.results, f.outcomes.tolist()):
            assert text[0] == ("B" if outcome[0] > 0 else "W") and text[1] == "+"


class _Material(nn.Module):
    """A stand-in network: uniform policy, a flat value of 0, and a score head that counts
    stones (own minus the opponent's, per point): it only knows the margin."""

    def __init__(self, num_actions: int) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> PolicyValueAux:
        B, points = len(x), x.shape[-1] * x.shape[-2]
        score = (x[:, 0].sum((1, 2)) - x[:, 1].sum((1, 2))) / points
        return PolicyValueAux(torch.zeros(B, self.num_actions), torch.zeros(B), torch.zeros(B, points), score)


def test_score_utility_is_the_value_blended_with_the_margin():
    from agents.mcts import network_evaluator

    game = envs.make("go", size=5)
    state = game.from_ascii("""
        X X . . .
        X . . . .
        . . . . .
        . . . . .
        . . . . .""", to_play=1)  # white to move, 3 stones down
    net = _Material(game.num_actions)
    assert network_evaluator(game, net)(state)[1].item() == 0.0  # the value alone
    utility = network_evaluator(game, net, score_utility=0.5)(state)[1].item()
    assert utility == pytest.approx(0.5 * (2 / torch.pi) * torch.atan(torch.tensor(-3.0 / 5)).item(), abs=1e-6)


def test_score_utility_makes_a_search_take_the_larger_margin():
    """With a flat value every move is equal; the score term makes the search capture the
    two black stones in atari (white C3 takes B4 and B3)."""
    from agents.mcts import network_evaluator, search

    game = envs.make("go", size=5, komi=0.5)
    state = game.from_ascii("""
        . O . . .
        O X O . .
        O X . . .
        . O . . .
        . . . . .""", to_play=1)
    capture = game.string_to_action("C3")
    net = _Material(game.num_actions)
    cfg = MCTSConfig(simulations=64, score_utility=0.5)
    assert search(game, state, network_evaluator(game, net, 0.5), cfg).action.item() == capture
    flat = search(game, state, network_evaluator(game, net), dataclasses.replace(cfg, score_utility=0.0))
    assert torch.allclose(flat.value, torch.zeros(1), atol=1e-6)  # without it, nothing to choose between


def test_score_utility_needs_a_score_head_and_a_weight_in_range():
    from agents.mcts import network_evaluator

    game = envs.make("go", size=5)
    cfg = dataclasses.replace(GO5, global_pooling=False, ownership_weight=0.0, score_weight=0.0)
    plain = make_network(game, cfg).eval()
    with pytest.raises(ValueError, match="score head"):
        network_evaluator(game, plain, 0.25)(game.init(1))
    with pytest.raises(ValueError, match="score_utility"):
        MCTSConfig(score_utility=1.5)
