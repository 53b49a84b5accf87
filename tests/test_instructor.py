"""The instructor check, for real (as CI runs it) and on canned results (its logic)."""

from tests.conftest import run_cli
from tutor.engine.results import GRADED, TIMEOUT, GradeResult, TestResult
from tutor.instructor import run_check


def test_check_passes_on_the_real_course():
    proc = run_cli("check", "--device", "cpu", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("check: ") and last.endswith(" 0 failed"), last


def canned(ex, path, outcome):
    passed = outcome == "full"
    nope = None if passed else {"code": "grader", "msg": "nope"}
    tests = [TestResult(name="t", points=ex.points - 3, earned=(ex.points - 3) if passed else 0, passed=passed,
                        finished=True, failure=nope),
             TestResult(name="s", points=3, earned=3 if passed else 0, passed=passed, kind="smoke", finished=True,
                        failure=nope)]
    return GradeResult(exercise=ex.id, file=str(path), status=TIMEOUT if outcome == "timeout" else GRADED,
                       tests=tests)


def test_check_flags_a_failing_solution_a_flaky_one_and_a_stub_that_scores(course):
    ex = course.exercise("corr2d")
    calls = []

    def broken_solution(ex_, path, device):
        calls.append(path)
        return canned(ex_, path, "zero")

    report = run_check([ex], grade=broken_solution)
    assert not report.ok
    bad = {f.check for f in report.findings if not f.ok}
    assert "reference solution gets full marks" in bad
    assert len(calls) == 3

    flips = iter(["full", "timeout", "zero"])

    def flaky(ex_, path, device):
        return canned(ex_, path, next(flips))

    bad = {f.check for f in run_check([ex], grade=flaky).findings if not f.ok}
    assert bad == {"reference solution: same verdict on a second run"}

    def stub_scores(ex_, path, device):
        return canned(ex_, path, "full")

    bad = {f.check for f in run_check([ex], grade=stub_scores).findings if not f.ok}
    assert bad == {"untouched stub scores zero with a clean verdict"}


def test_the_check_table_prints_details_as_text_not_markup():
    from rich.console import Console

    from tutor.instructor import Finding, Report

    report = Report(findings=[Finding("beam_search", "reference [solution] gets full marks", False,
                                      "prefix [bos_id] went missing at [i]", 0.1)], device="cpu")
    console = Console(record=True, width=200, color_system=None)
    report.render(console)
    text = console.export_text()
    assert "[bos_id]" in text and "[i]" in text and "reference [solution]" in text, text
