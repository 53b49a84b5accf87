"""Single-mistake variants of every exercise: one file per exercise, each a list of `Variant`s.

A variant is the reference solution with ONE typical mistake made on purpose. `loses` names exactly the tests that
must fail on it (the tests whose name says they check that thing): tests/test_mistakes.py grades every variant and
fails when any other test loses points ("one mistake costs once") or when a listed test passes. `mistake`, when
given, is the known-mistake id that some failing test must name (TestFailure(..., mistake=ID)).

A book version (`book_version(...)`) is a whole file instead: it behaves as the book's printed PyTorch code does,
written for this project, and `loses` names the one test that says where the tutor asks more than the book.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from tutor.manifest import load_course


@dataclass(frozen=True)
class Variant:
    name: str
    source: str
    loses: frozenset[str]
    mistake: str | None = None
    exercise: str = field(default="", compare=False)


def reference(exercise: str) -> str:
    return Path(load_course().exercise(exercise).solution_path).read_text(encoding="utf-8")


def variant(exercise: str, name: str, old: str, new: str, loses, mistake: str | None = None, count: int = 1) -> Variant:
    """The reference solution of `exercise` with `old` replaced by `new` (which must occur `count` times)."""
    source = reference(exercise)
    found = source.count(old)
    if found != count:
        raise AssertionError(f"{exercise}: {old!r} occurs {found} times in the reference, expected {count}")
    return Variant(name=name, source=source.replace(old, new), loses=frozenset(loses), mistake=mistake,
                   exercise=exercise)


def book_version(exercise: str, name: str, source: str, loses, mistake: str) -> Variant:
    """A learner file (`source`, dedented) that does what the book's printed code does; it must lose exactly `loses`
    (the one test that names the difference) and name `mistake`."""
    return Variant(name=f"book_version: {name}", source=textwrap.dedent(source).lstrip(), loses=frozenset(loses),
                   mistake=mistake, exercise=exercise)


def edits(exercise: str, name: str, replacements, loses, mistake: str | None = None) -> Variant:
    """The reference solution of `exercise` with several (old, new) replacements that together make ONE mistake
    (each `old` must occur exactly once)."""
    source = reference(exercise)
    for old, new in replacements:
        if source.count(old) != 1:
            raise AssertionError(f"{exercise}: {old!r} occurs {source.count(old)} times in the reference, expected 1")
        source = source.replace(old, new)
    return Variant(name=name, source=source, loses=frozenset(loses), mistake=mistake, exercise=exercise)
