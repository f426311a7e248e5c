"""arena/selfplay/: AlphaZero training as a person runs it. ``alphazero`` (the self-play, learning
and evaluation loop with its run folder, checkpoints and resume), ``distributed`` (the same with
self-play in Ray workers) and ``bootstrap`` (a head start from GNU Go's games)."""
