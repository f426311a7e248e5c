"""arena/: what a person touches: the ``arena`` command, run folders, the viewer, replays."""

__version__ = "0.1.0"
