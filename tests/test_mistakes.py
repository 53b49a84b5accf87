"""One mistake costs once: every single-mistake variant of every exercise (tests/mistakes/) loses exactly the points
of the tests that name that mistake, and names it when it is a known one."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.mistakes as mistakes
from tutor.engine.results import GRADED
from tutor.manifest import load_course


def all_variants():
    found = []
    for info in pkgutil.iter_modules(mistakes.__path__):
        module = importlib.import_module(f"tests.mistakes.{info.name}")
        for v in module.VARIANTS:
            found.append(pytest.param(v, id=f"{v.exercise}: {v.name}"))
    return found


def known_mistakes(failure) -> set[str]:
    from tutor.messages import walk

    return {str((f.get("params") or {}).get("mistake")) for f in walk(failure) if (f.get("params") or {}).get("mistake")}


@pytest.mark.parametrize("v", all_variants())
def test_a_single_mistake_costs_only_the_tests_that_name_it(warm, tmp_path, v):
    ex = load_course().exercise(v.exercise)
    names = {t for t in v.loses}
    path = tmp_path / ex.filename
    path.write_text(v.source, encoding="utf-8")
    result = warm.grade(ex, path, device="cpu")
    assert result.status == GRADED, result.problem
    planned = {t.name for t in result.tests}
    assert names <= planned, f"unknown test names in the variant: {sorted(names - planned)}"
    failed = {t.name for t in result.tests if not t.passed}
    report = "\n".join(f"{'✗' if not t.passed else '✓'} {t.name}: {t.message[:300]}" for t in result.tests)
    assert failed == names, f"expected to lose exactly {sorted(names)}\n{report}"
    if v.mistake:
        named = set().union(*(known_mistakes(t.failure) for t in result.tests if not t.passed))
        assert v.mistake in named, f"no failing test names the mistake {v.mistake!r} (named: {sorted(named)})\n{report}"
