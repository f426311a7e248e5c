"""What tests/test_mcts.py and tests/test_mcts_games.py share: the two root-selection
algorithms of agents/mcts.py that most of their tests run under."""

ALGORITHMS = ("puct", "gumbel")
