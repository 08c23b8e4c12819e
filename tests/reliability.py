"""The figures of docs/reliability.md come from the tests that prove its rows.

A reliability test asks for the ``reliability`` fixture and records what it measured (documents
carried, kills survived, seconds taken, RSS held, inputs tried) as it passes::

    def test_x(reliability) -> None:
        ...
        reliability(documents=36, kills=1, seconds=round(elapsed, 1))

At the end of the session the figures of every test that passed are written to
``.reliability/figures.json`` under the root (merged with earlier runs, newest wins), and, when
``EDOC_RELIABILITY=update`` is set, into the generated section of docs/reliability.md between
``<!-- figures:begin -->`` and ``<!-- figures:end -->``. Why a file and a switch rather than always
rewriting the document: a partial run (one test while working) must not rewrite the record of the
full suite, and CI's checkout is thrown away; the person who runs the suite and the campaign
with the switch commits the updated table.

``tests/test_reliability_doc.py`` keeps the table honest in the other direction: every test the
document names exists, and every figure in its generated section belongs to a test that exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
STORE = ROOT / ".reliability" / "figures.json"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
VIETNAM = dt.timezone(dt.timedelta(hours=7))

_recorded: dict[str, dict[str, Any]] = {}
_passed: set[str] = set()

Figure = str | int | float


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record figures for this test; called again, it adds to them."""
    node_id = request.node.nodeid

    def record(**figures: Figure) -> None:
        _recorded.setdefault(node_id, {}).update(figures)

    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.passed:
        _passed.add(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    fresh = {k: v for k, v in _recorded.items() if k in _passed}
    if not fresh:
        return
    when = dt.datetime.now(VIETNAM).isoformat(timespec="seconds")
    merged = load_figures()
    for node_id, figures in fresh.items():
        merged[node_id] = {"figures": figures, "when": when}
    STORE.parent.mkdir(exist_ok=True)
    STORE.write_text(json.dumps(merged, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                     encoding="utf-8")
    if os.environ.get("EDOC_RELIABILITY") == "update":
        DOC.write_text(with_section(DOC.read_text(encoding="utf-8"), merged), encoding="utf-8")


def load_figures() -> dict[str, Any]:
    try:
        return json.loads(STORE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def render(figures: dict[str, Any]) -> str:
    """The generated table: one row per test, its figures as ``name value`` pairs."""
    lines = ["| test | measured | run |", "|---|---|---|"]
    for node_id in sorted(figures):
        entry = figures[node_id]
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in entry["figures"].items())
        lines.append(f"| `{node_id}` | {shown} | {entry['when'][:10]} |")
    return "\n".join(lines)


def with_section(text: str, figures: dict[str, Any]) -> str:
    """``text`` with its generated section replaced (or appended when it has none)."""
    section = f"{BEGIN}\n{render(figures)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n## Figures measured by the tests\n\n" + section + "\n"
