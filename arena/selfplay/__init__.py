"""arena/selfplay/: AlphaZero training as a person runs it. ``alphazero`` (the learner that
arena/run_loop.py drives: self-play and learning, evaluation, its run folder's checkpoints and
resume), ``distributed`` (the same with self-play in Ray workers) and ``bootstrap`` (a head start
from GNU Go's games)."""
