"""arena.bots.match.play_matches: several matches in one batch, each bot called only where it moves."""

import torch

import envs
from arena.bots.match import make_bot, play_match_record, play_matches


def recording(bot, calls):
    """``bot`` that notes every sub-batch it is asked about (its size, whether any game is over,
    and whose turn it is in each game)."""

    def wrapped(game, state):
        calls.append((len(state.terminated), bool(state.terminated.any()), state.current_player.tolist()))
        return bot(game, state)

    return wrapped


def test_each_bot_is_called_only_on_unfinished_games_where_it_moves():
    game = envs.make("tictactoe")
    calls_a, calls_b = [], []
    a = recording(make_bot("random", game, 1), calls_a)
    b = recording(make_bot("minimax", game, 2), calls_b)
    record = play_match_record(game, (a, b), 10)
    assert record.result.games == 10 and record.result.wins == 0  # minimax never loses
    assert calls_a and calls_b
    for calls in (calls_a, calls_b):
        assert all(not over and 0 < size <= 5 for size, over, _ in calls)  # 5 games each seat, never all 10
    # In its first call, a (first bot) moves as X in the first 5 games only.
    assert calls_a[0] == (5, False, [0] * 5)


def test_matches_in_one_batch_share_a_bot_and_keep_their_own_results():
    game = envs.make("tictactoe")
    calls = []
    me = recording(make_bot("minimax", game, 3), calls)
    vs_random, vs_minimax = play_matches(game, [(me, make_bot("random", game, 4)), (me, make_bot("minimax", game, 5))], 20)
    assert vs_random.result.games == vs_minimax.result.games == 20
    assert vs_random.result.losses == 0 and vs_minimax.result.losses == 0
    assert vs_minimax.result.draws == 20  # perfect play against perfect play draws
    assert vs_random.result.wins > 10
    assert calls[0][0] == 20  # one call served both matches: me is X in 10 games of each
    assert vs_random.seats == vs_minimax.seats == (0,) * 10 + (1,) * 10
    for moves, text in zip(vs_minimax.moves, vs_minimax.results):
        state = game.init(1)
        for a in moves:
            state = game.step(state, torch.tensor([a]))
        assert bool(state.terminated[0]) and text == "draw"


def first_legal_bot(game, state):
    """A deterministic player: always the lowest-numbered legal move (never random)."""
    return state.legal_action_mask.float().argmax(1)


def test_random_openings_give_deterministic_players_different_games_with_both_colours():
    game = envs.make("go", size=7)
    plain = play_match_record(game, (first_legal_bot, first_legal_bot), 8)
    assert plain.distinct_games == 2  # one game per colour, repeated
    games, opening = 8, 3
    records = play_matches(game, [(first_legal_bot, first_legal_bot), (first_legal_bot, make_bot("random", game, 1))],
                           games, opening=opening, seed=7)
    varied = records[0]
    assert varied.distinct_games == games
    half = games // 2
    for k in range(half):
        # Game k and game k + half swap colours and open with the same moves; no opening move is a pass.
        assert varied.seats[k] == 0 and varied.seats[k + half] == 1
        assert varied.moves[k][:opening] == varied.moves[k + half][:opening]
        assert game.pass_action not in varied.moves[k][:opening]
        assert records[1].moves[k][:opening] == varied.moves[k][:opening]  # every pairing gets the same openings
    assert len({m[:opening] for m in varied.moves}) == half
    again = play_matches(game, [(first_legal_bot, first_legal_bot)], games, opening=opening, seed=7)[0]
    assert again.moves == varied.moves  # the seed decides the openings
    other = play_matches(game, [(first_legal_bot, first_legal_bot)], games, opening=opening, seed=8)[0]
    assert other.moves != varied.moves
