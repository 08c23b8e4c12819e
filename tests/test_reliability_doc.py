"""docs/reliability.md names the tests that prove each row, and carries the figures those tests
recorded (tests/reliability.py). A renamed or deleted test must not leave a row pointing at
nothing, nor a figure belonging to no test."""

from __future__ import annotations

import re
from pathlib import Path

from tests.reliability import BEGIN, DOC, END, ROOT, render, with_section

TESTS = ROOT / "tests"


def _test_names(path: Path) -> set[str]:
    return set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"),
                          re.MULTILINE))


def _all_test_names() -> set[str]:
    return {name for path in TESTS.glob("test_*.py") for name in _test_names(path)}


def test_every_test_the_table_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    everywhere = _all_test_names()
    named = re.findall(r"`(tests/test_\w+\.py)(?:::(test_\w+))?`", text)
    bare = re.findall(r"`(test_\w+)`", text)
    assert named, "the table names no test file"
    missing = [f"{file}::{name}" if name else file for file, name in named
               if not (ROOT / file).is_file()
               or (name and name not in _test_names(ROOT / file))]
    missing += [name for name in bare if name not in everywhere]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_every_figure_belongs_to_a_test_that_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text:
        return  # no figures recorded into the document yet: nothing can be stale
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    for file, name in re.findall(r"`(tests/test_\w+\.py)::(test_\w+)", section):
        assert name in _test_names(ROOT / file), f"figures of a test that is gone: {file}::{name}"


def test_the_generated_section_is_replaced_not_repeated() -> None:
    figures = {"tests/test_a.py::test_b": {"figures": {"documents": 36, "kills_survived": 1},
                                           "when": "2026-12-06T14:00:00+07:00"}}
    once = with_section("# Title\n\ntext\n", figures)
    assert "| `tests/test_a.py::test_b` | documents 36, kills survived 1 | 2026-12-06 |" in once
    figures["tests/test_a.py::test_b"]["figures"]["documents"] = 40
    twice = with_section(once + "\nafter\n", figures)
    assert twice.count(BEGIN) == 1 and "documents 40" in twice and "documents 36" not in twice
    assert twice.endswith("after\n") and render(figures) in twice
