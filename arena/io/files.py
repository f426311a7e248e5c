"""Two small file rules every writer in arena/ follows: new files get a time-stamped name that
never overwrites an older one, and files are written atomically (a temporary file in the same
folder, then ``os.replace``), so a crash never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def stamped_path(directory: str | Path, prefix: str, suffix: str = "") -> Path:
    """``<directory>/<prefix>-<YYYYmmdd-HHMMSS><suffix>``, with ``-2``, ``-3``... if taken."""
    directory = Path(directory)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = directory / f"{prefix}-{stamp}{suffix}", 1
    while path.exists():
        n += 1
        path = directory / f"{prefix}-{stamp}-{n}{suffix}"
    return path


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``;
    creates the folder, removes the temporary file on failure. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; creates the folder. Returns ``path``."""
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text))
