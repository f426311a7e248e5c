"""arena/commands/: one module per ``arena`` subcommand, named after it (``train``, ``eval``,
``play``, ``watch``, ``replay``, ``match``, ``tournament``, ``gtp``, ``demo``, ``bandits``;
``arena supervised`` lives in arena/supervised/). Each holds the frozen config dataclass tyro
reads and the function that runs it; arena/cli.py gathers them. They import their heavy
dependencies (pygame, sgfmill, ray) inside those functions, so ``arena --help`` stays fast."""
