"""Grading a class, the reports (issue 10): grades.csv, results.jsonl, each student's feedback and the class summary,
written from hand-built result records (no grading here), in English and in Chinese, atomically."""

from __future__ import annotations

import csv
import errno
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tutor import i18n
from tutor.classroom import report
from tutor.classroom.report import (ReportError, append_result, atomic_write, feedback_names, latest,
                                    read_results_jsonl, score_histogram_svg, summary_stats, write_feedback,
                                    write_grades_csv, write_results_jsonl, write_summary)
from tutor.classroom.submissions import Note
from tutor.engine.results import GradeResult, TestResult
from tutor.messages import failure

EXAMPLE = "the course's 3x3 example"          # corr2d's tests (their Chinese names are in its catalog)
GRADIENTS = "gradients flow back to X and K"
OFF_BY_ONE = ("{call} returned shape {got_shape}, but it should have shape {expected_shape}: the output size is off "
              "by one. A (kh, kw) kernel fits inside an (h, w) input at h - kh + 1 rows and w - kw + 1 columns (the "
              "window's top-left corner goes from 0 to h - kh, both included), so the output has shape (h - kh + 1, "
              "w - kw + 1): the +1 is missing. The other tests that fail only because of this shape say so in one "
              "line.")
CALL = "corr2d(X: float32[3, 3], K: float32[2, 2])"


@pytest.fixture(autouse=True)
def keep_language():
    before = i18n._state["lang"]
    yield
    i18n._state["lang"] = before


def off_by_one() -> dict:
    return {"code": "known_mistake", "msg": OFF_BY_ONE, "params": {"call": CALL, "got_shape": "(1, 1)",
                                                                  "expected_shape": "(2, 2)",
                                                                  "mistake": "corr2d.output_size_off_by_one"}}


def flipped_inside() -> dict:
    """A known mistake named by a part of the failure, not by the failure itself."""
    return {"code": "value_mismatch", "params": {"call": CALL}, "parts": [
        {"code": "known_mistake", "msg": "{call} flipped the kernel.", "params": {"call": CALL,
                                                                                 "mistake": "corr2d.flipped_kernel"}}]}


def record(student, tests, *, status="graded", exercise="corr2d", problem=None, duration=1.0, **extra) -> dict:
    """A record as the runner writes it: GradeResult.to_json() plus the student and the grader's version."""
    result = GradeResult(exercise, f"{exercise}.py", status, [TestResult(*t, finished=True) for t in tests],
                         problem_failure=problem, duration=duration)
    out = result.to_json()
    out.update(student=student, file=f"{student}/{exercise}.py", grader_version="v1", **extra)
    return out


def missing(student, exercise="corr2d") -> dict:
    return {"student": student, "exercise": exercise, "file": f"{student}/{exercise}.py", "file_hash": "",
            "grader_version": "v1", "status": "missing", "tests": [], "score": 0.0, "max_score": 12.0,
            "full_marks": False, "duration": 0.0, "device": "", "problem": "",
            "problem_failure": {"code": "class_no_file", "params": {"file": f"{student}/{exercise}.py"}}}


@pytest.fixture
def records() -> list[dict]:
    """corr2d (12 points in the course) with two of its tests (1 and 2 points), for six students."""
    timeout = failure("timeout", exercise="corr2d", limit=60)
    return [
        record("alice", [(EXAMPLE, 1, 0.0, False, off_by_one()), (GRADIENTS, 2, 2.0, True)], duration=3.0),
        record("bob", [(EXAMPLE, 1, 1.0, True), (GRADIENTS, 2, 2.0, True)], duration=2.0),
        missing("carol"),
        record("dave", [(EXAMPLE, 1, 1.0, True), (GRADIENTS, 2, 0.0, False, timeout)], status="timeout",
               problem=timeout, duration=61.0),
        record("erin", [(EXAMPLE, 1, 0.0, False, flipped_inside()), (GRADIENTS, 2, 2.0, True)], duration=1.5),
        record("frank", [(EXAMPLE, 1, 0.0, False, flipped_inside()), (GRADIENTS, 2, 0.0, False,
                                                                       failure("not_implemented", call=CALL))]),
    ]


# -- grades.csv -----------------------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_the_csv_has_a_row_per_student_a_column_per_exercise_totals_and_notes(tmp_path, course, records):
    records.append(record("alice", [("a gru test", 12, 7.5, False, None)], exercise="gru"))
    students = ["alice", "bob", "carol", "dave", "erin", "frank", "=HYPERLINK(\"x\")"]
    notes = [Note("bob", "corr2d", "empty_file", "corr2d.py")]
    path = tmp_path / "out" / "grades.csv"
    write_grades_csv(path, records, [course.exercise("corr2d"), course.exercise("gru")], students, notes=notes)
    rows = read_csv(path)
    assert rows[0] == ["student", "corr2d", "gru", "total", "maximum", "notes"]
    by_student = {row[0]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == students[:-1] + ["'=HYPERLINK(\"x\")"]  # a formula is not run
    assert by_student["alice"][1:5] == ["2", "7.5", "9.5", "24"]
    assert by_student["bob"][1:5] == ["3", "", "3", "24"]
    assert "gru: no result" in by_student["bob"][5] and "corr2d.py is empty" in by_student["bob"][5]
    assert by_student["carol"][1] == "0" and "corr2d: not submitted" in by_student["carol"][5]
    assert by_student["dave"][1] == "1" and "corr2d: not graded to the end (stopped: time limit)" in \
        by_student["dave"][5]
    assert all(len(row) == 6 for row in rows)


def test_the_csv_notes_are_in_the_language_asked_for(tmp_path, course, records):
    path = tmp_path / "grades.csv"
    write_grades_csv(path, records, [course.exercise("corr2d")], lang="zh")
    rows = read_csv(path)
    assert rows[0][0] == "student"                       # the columns stay the same for gradebooks
    carol = next(row for row in rows if row[0] == "carol")
    assert "未提交" in carol[-1]


def test_the_last_record_of_a_pair_counts(tmp_path, course, records):
    again = record("alice", [(EXAMPLE, 1, 1.0, True), (GRADIENTS, 2, 2.0, True)])
    assert latest(records + [again])[0] is again and len(latest(records + [again])) == len(records)
    path = tmp_path / "grades.csv"
    write_grades_csv(path, records + [again], [course.exercise("corr2d")])
    assert read_csv(path)[1][:2] == ["alice", "3"]


def failing_write(after: int, error: int):
    """os.write that writes `after` bytes, then fails with `error` (a disk that fills up midway)."""
    state = {"left": after}

    def write(fd, data):
        if state["left"] <= 0:
            raise OSError(error, "simulated")
        n = min(len(data), state["left"])
        state["left"] -= n
        import os
        return os.write(fd, bytes(data[:n]))

    return write


@pytest.mark.parametrize("error", [errno.EIO, errno.ENOSPC])
def test_a_write_that_fails_midway_leaves_the_old_csv_whole_and_no_temporary_file(tmp_path, course, records,
                                                                                  monkeypatch, error):
    path = tmp_path / "grades.csv"
    write_grades_csv(path, records, [course.exercise("corr2d")])
    old = path.read_bytes()
    many = records + [record(f"student{i:04d}", [(EXAMPLE, 1, 1.0, True)]) for i in range(3000)]
    monkeypatch.setattr(report, "_os_write", failing_write(5000, error))
    with pytest.raises(ReportError) as info:
        write_grades_csv(path, many, [course.exercise("corr2d")])
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]
    assert info.value.errno == error and str(path) in str(info.value)
    if error == errno.ENOSPC:
        assert "no space left" in str(info.value)


def test_a_full_disk_leaves_no_half_file_where_there_was_none(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_os_write", failing_write(10, errno.ENOSPC))
    with pytest.raises(ReportError, match="no space left"):
        atomic_write(tmp_path / "summary.md", "x" * 100_000)
    assert list(tmp_path.iterdir()) == []


# -- results.jsonl ------------------------------------------------------------------------------------------------


def test_records_are_appended_one_per_line_and_read_back(tmp_path, records):
    path = tmp_path / "results.jsonl"
    for r in records:
        append_result(path, r)
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == len(records) + 1 and lines[-1] == b""
    assert read_results_jsonl(path) == records
    assert read_results_jsonl(tmp_path / "none.jsonl") == []
    write_results_jsonl(tmp_path / "again.jsonl", records)
    assert read_results_jsonl(tmp_path / "again.jsonl") == records


@pytest.mark.parametrize("torn", [b'{"student": "dave", "exer', b'{"student": "\xe7\x8e', b"[1, 2"])
def test_a_line_torn_by_a_crash_is_skipped_and_the_next_append_starts_a_new_line(tmp_path, records, torn):
    path = tmp_path / "results.jsonl"
    for r in records[:2]:
        append_result(path, r)
    with open(path, "ab") as f:                 # the process died in the middle of a write
        f.write(torn)
    assert read_results_jsonl(path) == records[:2]
    append_result(path, records[2])             # --resume appends after it
    assert read_results_jsonl(path) == records[:3]


# -- feedback -----------------------------------------------------------------------------------------------------


def test_each_student_reads_their_scores_tests_and_messages(tmp_path, course, records):
    notes = [Note("alice", None, "not_exercises", "notes.txt"), Note("bob", None, "not_exercises", "x.txt")]
    written = write_feedback(tmp_path / "feedback", records, course, "en", notes=notes)
    assert set(written) == {"alice", "bob", "carol", "dave", "erin", "frank"}
    alice = written["alice"].read_text(encoding="utf-8")
    assert alice.startswith("# Feedback for alice\n")
    assert "Total: 2/12 points" in alice and "**2/12**" in alice
    assert "| ✗ | the course's 3x3 example | 0/1 |" in alice
    assert "| ✓ | gradients flow back to X and K | 2/2 |" in alice
    assert "returned shape (1, 1), but it should have shape (2, 2): the output size is off by one" in alice
    assert "notes.txt" in alice and "x.txt" not in alice               # only their own notes
    carol = written["carol"].read_text(encoding="utf-8")
    assert "You did not submit corr2d.py" in carol and "0/12" in carol
    dave = written["dave"].read_text(encoding="utf-8")
    assert "stopped: time limit" in dave and "longer than its 60 s limit" in dave
    frank = written["frank"].read_text(encoding="utf-8")
    assert "is not written yet: it still raises the stub's NotImplementedError" in frank


def test_a_chinese_class_reads_its_feedback_in_chinese(tmp_path, course, records):
    i18n.set_lang("en")
    written = write_feedback(tmp_path / "feedback", records, course, "zh")
    assert i18n.get_lang() == "en"                                         # the process's language is restored
    alice = written["alice"].read_text(encoding="utf-8")
    assert "| ✗ | 课程中的 3x3 示例 | 0/1 |" in alice                     # the test's name, from corr2d's catalog
    assert "返回的形状为 (1, 1)，但应为 (2, 2)：输出的大小差了 1" in alice  # the verdict, rendered from its data
    assert "二维互相关运算" in alice                                       # the exercise's Chinese title
    assert "returned shape" not in alice and "Feedback for" not in alice
    assert "还没有实现" in written["frank"].read_text(encoding="utf-8")
    assert "已停止：超出时间限制" in written["dave"].read_text(encoding="utf-8")


def test_markdown_in_names_and_messages_cannot_break_the_feedback(tmp_path, course):
    nasty = {"code": "grader", "msg": "got | this\n```\n# not a heading\n````", "params": {}}
    r = record("a|b <script>", [("x | y", 1, 0.0, False, nasty)])
    text = write_feedback(tmp_path, [r], course, "en")["a|b <script>"].read_text(encoding="utf-8")
    assert "# Feedback for a\\|b \\<script\\>" in text
    row = next(line for line in text.splitlines() if line.startswith("| ✗"))
    assert row == "| ✗ | x \\| y | 0/1 |"
    assert row.replace("\\|", "").count("|") == 4                       # still a row of three cells
    fence = "`````"                                                       # longer than any run in the message
    assert f"{fence}text\ngot | this\n```\n# not a heading\n````\n{fence}" in text


def test_feedback_file_names_are_safe_distinct_and_keep_unicode():
    ids = ["alice", "Alice", "王 小明", "../etc/passwd", "con", "a/b", "a b", ".hidden", "x" * 300, ""]
    names = feedback_names(ids)
    files = list(names.values())
    assert len({f.casefold() for f in files}) == len(ids)
    for f in files:
        assert "/" not in f and "\\" not in f and not f.startswith(".") and f.endswith(".md")
        assert len(f.encode()) <= 255
    assert names["王 小明"] == "王-小明.md"
    assert names["alice"] != names["Alice"] and names["alice"].startswith("alice-")
    assert names["con"] != "con.md"
    assert feedback_names(["bob"]) == {"bob": "bob.md"}
    assert feedback_names(ids) == names                                  # stable


# -- summary ------------------------------------------------------------------------------------------------------


def test_the_summary_numbers(course, records):
    stats = summary_stats(records, course)
    (corr2d,) = stats["exercises"]
    assert corr2d["maximum"] == 12 and corr2d["records"] == 6 and corr2d["submitted"] == 5
    assert corr2d["mean"] == pytest.approx((2 + 3 + 0 + 1 + 2 + 0) / 6)      # a missing file counts as 0
    assert corr2d["mean_submitted"] == pytest.approx((2 + 3 + 1 + 2 + 0) / 5)
    assert corr2d["failed"] == 1 and corr2d["full_marks"] == 1            # bob passed every test
    tests = {t["name"]: t for t in corr2d["tests"]}
    assert tests[EXAMPLE]["pass_rate"] == pytest.approx(2 / 5) and tests[EXAMPLE]["mean"] == pytest.approx(2 / 5)
    assert tests[GRADIENTS]["pass_rate"] == pytest.approx(3 / 5) and tests[GRADIENTS]["mean"] == pytest.approx(6 / 5)
    assert [(m["mistake"], m["students"]) for m in stats["mistakes"]] == [
        ("corr2d.flipped_kernel", ["erin", "frank"]), ("corr2d.output_size_off_by_one", ["alice"])]
    assert [r["student"] for r in stats["slowest"][:2]] == ["dave", "alice"]
    assert [r["student"] for r in stats["failed"]] == ["dave"]
    assert stats["totals"] == {"alice": 2, "bob": 3, "carol": 0, "dave": 1, "erin": 2, "frank": 0}
    assert stats["maximum"] == 12


def test_the_summary_file_says_it_and_links_its_histogram(tmp_path, course, records):
    svg = write_summary(tmp_path / "summary.md", records, course, "en")
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert svg == tmp_path / "score-histogram.svg" and svg.is_file()
    assert "](score-histogram.svg)" in text
    assert "| the course's 3x3 example | 1 | 0.4 | 40% |" in text
    assert "| gradients flow back to X and K | 2 | 1.2 | 60% |" in text
    assert text.index("corr2d.flipped\\_kernel") < text.index("corr2d.output\\_size\\_off\\_by\\_one")
    assert "| dave | corr2d | stopped: time limit |" in text
    assert "| dave | corr2d | 61.0 |" in text
    zh = write_summary(tmp_path / "zh" / "summary.md", records, course, "zh")
    text_zh = (tmp_path / "zh" / "summary.md").read_text(encoding="utf-8")
    assert "| 课程中的 3x3 示例 | 1 | 0.4 | 40% |" in text_zh and "已停止：超出时间限制" in text_zh
    assert "Most common mistakes" not in text_zh
    assert ET.parse(zh).getroot().find("{http://www.w3.org/2000/svg}title").text != "score distribution"


SVG = "{http://www.w3.org/2000/svg}"


def bar_counts(svg: str) -> list[int]:
    bars = [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    return [int(b.find(f"{SVG}title").text) for b in bars]


def test_the_histogram_is_well_formed_svg_with_a_bar_per_bin():
    svg = score_histogram_svg([0, 5, 9.99, 10, 10], 10, title="<scores> & more")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "<scores> & more"
    assert bar_counts(svg) == [1, 0, 0, 0, 0, 1, 0, 0, 0, 3]             # full marks fall in the last bin
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert max(heights) == pytest.approx(230.0) and heights[5] == pytest.approx(230.0 / 3, abs=0.1)
    assert bar_counts(score_histogram_svg([0, 12.5], 10)) == [1] + [0] * 8 + [1]   # a total above: the scale grows
    for totals, maximum in [([], 10), ([0, 0], 0), ([3], 0)]:
        assert sum(bar_counts(score_histogram_svg(totals, maximum))) == len(totals)
