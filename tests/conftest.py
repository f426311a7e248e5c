"""Shared test setup: headless pygame/matplotlib, and one torch thread (small tensors run
fastest single-threaded on small CPUs, and tests then do not fight each other for cores)."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def _test_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A home directory for the whole test session (caches such as matplotlib's live there)."""
    return str(tmp_path_factory.mktemp("home"))


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, _test_home: str) -> None:
    """Every test runs in a fresh empty working directory with a temporary home, so nothing
    reads or writes the user's runs/, replays/, home directory or current directory (the
    defaults that look for "the newest run" then see an empty runs/)."""
    real_home = os.path.expanduser("~")
    if "PYENV_ROOT" not in os.environ and os.path.isdir(os.path.join(real_home, ".pyenv")):
        monkeypatch.setenv("PYENV_ROOT", os.path.join(real_home, ".pyenv"))  # pyenv's shims find Python by it
    monkeypatch.setenv("HOME", _test_home)
    monkeypatch.setenv("MPLCONFIGDIR", os.path.join(_test_home, "matplotlib"))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
