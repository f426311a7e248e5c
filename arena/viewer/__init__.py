"""The pygame window of ``arena play``: a person against a bot, a search or a trained network.

- :mod:`arena.viewer.session`: the game, undo, seats and the opponent's thread (no pygame);
- :mod:`arena.viewer.board`: drawing a session (board, heat map, territory, status bar);
- :mod:`arena.viewer.window`: the event loop, scriptable for headless tests;
- :mod:`arena.viewer.screenshots`: the README pictures (``python -m arena.viewer.screenshots``).
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner on stdout when pygame loads
