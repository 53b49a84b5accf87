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


@pytest.fixture(scope="module")
def verdicts(request, tmp_path_factory):
    """Every selected variant (`-k` narrows them) graded once, up front, on two warm graders side by side (the
    suite's longest part; the gradings are independent, so the two cores halve it). Keyed by the variant's id."""
    from concurrent.futures import ThreadPoolExecutor

    from tutor.engine.runner import default_threads
    from tutor.engine.warm import GraderPool

    course = load_course()
    variants = [item.callspec.params["v"] for item in request.session.items
                if item.originalname == "test_a_single_mistake_costs_only_the_tests_that_name_it"]
    root = tmp_path_factory.mktemp("mistakes")
    jobs = 2

    def grade(pair):
        i, v = pair
        ex = course.exercise(v.exercise)
        path = root / str(i) / ex.filename
        path.parent.mkdir()
        path.write_text(v.source, encoding="utf-8")
        try:
            return pool.grade(ex, path, device="cpu", threads=default_threads(jobs))
        except Exception as exc:  # noqa: BLE001 - reported by the variant's own test
            return exc

    with GraderPool(jobs, fallback_to_cold=False) as pool, ThreadPoolExecutor(jobs) as workers:
        results = list(workers.map(grade, enumerate(variants)))
    return {(v.exercise, v.name): r for v, r in zip(variants, results)}


@pytest.mark.parametrize("v", all_variants())
def test_a_single_mistake_costs_only_the_tests_that_name_it(verdicts, v):
    result = verdicts[(v.exercise, v.name)]
    if isinstance(result, Exception):
        raise result
    names = {t for t in v.loses}
    assert result.status == GRADED, result.problem
    planned = {t.name for t in result.tests}
    assert names <= planned, f"unknown test names in the variant: {sorted(names - planned)}"
    failed = {t.name for t in result.tests if not t.passed}
    report = "\n".join(f"{'✗' if not t.passed else '✓'} {t.name}: {t.message[:300]}" for t in result.tests)
    assert failed == names, f"expected to lose exactly {sorted(names)}\n{report}"
    if v.mistake:
        named = set().union(*(known_mistakes(t.failure) for t in result.tests if not t.passed))
        assert v.mistake in named, f"no failing test names the mistake {v.mistake!r} (named: {sorted(named)})\n{report}"
