"""The ``arena`` command, called as a function (no subprocess) and once as a console script."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from arena.cli import main
from arena.commands.demo import Demo, run_demo


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_demo_minimax_never_loses_to_random(capsys: pytest.CaptureFixture[str]) -> None:
    tally = run_demo(Demo(games=6, seed=3))
    assert sum(tally.values()) == 6
    assert tally["random (bot 2) wins"] == 0
    out = capsys.readouterr().out
    assert "A B C" in out and "result:" in out


def test_demo_is_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(Demo(game="go", size=5, first="random", games=1, seed=7))
    first = capsys.readouterr().out
    run_demo(Demo(game="go", size=5, first="random", games=1, seed=7))
    assert capsys.readouterr().out == first


def test_minimax_on_go_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--game", "go", "--first", "minimax"]) == 2
    assert "tic-tac-toe only" in capsys.readouterr().err


def test_console_script() -> None:
    exe = shutil.which("arena")
    if exe is None:
        pytest.skip("arena console script not installed (pip install -e .)")
    out = subprocess.run([exe, "demo", "--games", "1", "--quiet"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "draws" in out.stdout
