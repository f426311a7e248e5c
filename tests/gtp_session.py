"""Scripted GTP sessions for tests/test_gtp.py and tests/test_gtp_protocol.py: an engine, one
command line at a time, each answer checked to be one well-formed GTP v2 response."""

from __future__ import annotations

import re

from arena.commands.gtp import GtpCommand
from arena.go.gtp import GtpEngine

ANSWER = re.compile(r"([=?])([0-9]*) (.*)\n\n", re.DOTALL)


def new_engine(size: int = 5, game: str = "go", agent: str = "random", **kw) -> GtpEngine:
    return GtpEngine.from_command(GtpCommand(game=game, size=size, agent=agent, **kw))  # type: ignore[arg-type]


def ask(engine: GtpEngine, line: str) -> tuple[bool, str]:
    """(succeeded, text) of the one answer to ``line``, checking its form."""
    answer = engine.handle_line(line)
    assert answer is not None, line
    return well_formed(answer)[0] == "=", well_formed(answer)[2]


def ok(engine: GtpEngine, line: str) -> str:
    success, text = ask(engine, line)
    assert success, f"{line!r} failed: {text}"
    return text


def fails(engine: GtpEngine, line: str) -> str:
    success, text = ask(engine, line)
    assert not success, f"{line!r} should fail, answered {text!r}"
    return text


def well_formed(answer: str) -> tuple[str, str, str]:
    """(= or ?, id, text) of one answer; fails unless it is one GTP v2 response."""
    m = ANSWER.fullmatch(answer)
    assert m, repr(answer)
    assert "\n\n" not in answer[:-2], repr(answer)  # a blank line would end it early
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", answer), repr(answer)
    return m.group(1), m.group(2), m.group(3)
