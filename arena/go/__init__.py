"""arena/go/: the Go tools beside the rules (envs/go.py). ``gtp`` (the GTP protocol, parsing
kept apart from the engine's ``cmd_*`` handlers), ``gnugo`` (GNU Go as an opponent and a
referee, through a GTP client), ``sgf`` (SGF records to and from arena's JSON replays) and
``coords`` (sgfmill's (row, column) points; GTP vertices are the rules' own)."""
