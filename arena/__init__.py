"""arena/: what a person touches: the ``arena`` command (``cli``, ``commands/``, ``supervised/``),
the players and their matches (``bots/``), the one training loop (``run_loop``) and its learners,
AlphaZero and model-free (``selfplay/``, ``rl/``), the Go tools (``go/``), what is written to disk (``io/``), the window (``viewer/``),
``--nproc``'s process group (``ddp``) and the networks that ship (``weights/``)."""

__version__ = "0.1.0"
