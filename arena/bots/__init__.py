"""arena/bots/: who plays and how games between them are counted. ``match`` (the ``Bot``
callables ``random``/``minimax`` and batched matches with seats swapped), ``thinking`` (the value
type a player shows), ``networks`` (a trained AlphaZero network as a search player), ``players``
(every player by name: bots, mcts, shipped networks, checkpoints, model-free learners), ``elo``
(ratings as pure functions) and ``tournament`` (the round robin, its tables and replays)."""
