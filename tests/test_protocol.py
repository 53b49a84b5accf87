"""The parent trusts nothing it reads: every event is typed and validated, in order, and a bad report ends the
run with a clear verdict instead of crashing the tool or spinning (tutor.engine.protocol, runner.supervise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from tutor.engine import protocol
from tutor.engine.protocol import InvalidReport, LineReader, Sequence, parse
from tutor.engine.results import GRADED, INVALID_REPORT
from tutor.engine.runner import PopenHandle, build_result, supervise
from tutor.manifest import load_course
from tutor.messages import render

PLAN = {"event": "plan", "exercise": "corr2d", "device": "cpu", "torch": "2", "import_seconds": 0.1,
        "tests": [{"name": "a", "points": 1, "kind": "test"},
                  {"name": "s", "points": 3, "kind": "smoke", "metric": "m", "goal": "max", "threshold": 0.1}]}
LOAD = {"event": "load", "ok": True, "isolation": "process"}


def line(event: dict) -> bytes:
    return json.dumps(event).encode()


def good_run() -> list[dict]:
    return [PLAN, LOAD, {"event": "test_started", "name": "a"},
            {"event": "test_finished", "name": "a", "passed": True, "duration": 0.1},
            {"event": "test_started", "name": "s"}, {"event": "smoke_step", "name": "s", "step": 1, "metrics": {"m": 0.5}},
            {"event": "test_finished", "name": "s", "passed": False, "duration": 0.2,
             "failure": {"code": "smoke_below_threshold", "params": {"metric": "m", "value": "0.5", "need": "≤",
                                                                   "threshold": "0.1", "steps": 1}}},
            {"event": "run_finished"}]


def test_a_good_run_parses_in_order_and_renders():
    seq = Sequence()
    events = [parse(line(e)) for e in good_run()]
    for e in events:
        seq.check(e)
    assert seq.done
    result = build_result(load_course().exercise("corr2d"), "f.py", events, "", 0, 60, 3072)
    assert result.status == GRADED and result.score == 1
    assert "needs ≤ 0.1" in result.tests[1].message


@pytest.mark.parametrize("bad", [
    {"event": "test_finished", "name": "a", "passed": True, "duration": "soon"},
    {"event": "test_finished", "name": "a", "passed": "yes"},
    {"event": "test_finished", "name": "a", "passed": True, "extra": 1},
    {"event": "test_finished", "name": "a", "passed": False, "failure": {"code": "Bad Code!"}},
    {"event": "test_finished", "name": "a", "passed": False, "failure": {"code": "x", "params": {"k": {"nested": 1}}}},
    {"event": "smoke_step", "name": "s", "step": -1, "metrics": {}},
    {"event": "smoke_step", "name": "s", "step": 1, "metrics": {"m": "high"}},
    {"event": "plan", "exercise": "x", "device": "cpu", "torch": "", "tests": []},
    {"event": "load", "ok": True, "isolation": "chroot"},
    {"event": "hello"},
    ["not", "an", "object"],
])
def test_malformed_events_are_refused(bad):
    with pytest.raises(InvalidReport):
        parse(json.dumps(bad).encode())


def test_not_json_and_oversized_lines_are_refused():
    with pytest.raises(InvalidReport):
        parse(b'{"event": "run_finished"')
    with pytest.raises(InvalidReport):
        parse(b" " * (protocol.MAX_LINE + 1))


@pytest.mark.parametrize("order", [
    [PLAN, PLAN],
    [LOAD],
    [PLAN, {"event": "test_started", "name": "a"}],
    [PLAN, LOAD, {"event": "test_started", "name": "s"}],
    [PLAN, LOAD, {"event": "test_finished", "name": "a", "passed": True}],
    [PLAN, LOAD, {"event": "test_started", "name": "a"}, {"event": "smoke_step", "name": "a", "step": 1, "metrics": {}}],
    [PLAN, LOAD, {"event": "test_started", "name": "a"}, {"event": "run_finished"}],
    good_run() + [{"event": "test_started", "name": "a"}],
])
def test_events_out_of_order_are_refused(order):
    seq = Sequence()
    with pytest.raises(InvalidReport):
        for e in order:
            seq.check(parse(line(e)))


def test_line_reader_splits_in_linear_time_and_caps_a_line():
    reader = LineReader()
    assert reader.feed(b'{"a": 1}\n{"b"') == [b'{"a": 1}']
    assert reader.feed(b': 2}\n\n') == [b'{"b": 2}', b""]
    reader = LineReader()
    chunk = b"x" * 65536
    with pytest.raises(InvalidReport):
        for _ in range(protocol.MAX_LINE // len(chunk) + 2):
            reader.feed(chunk)
    # a long stream of short lines never grows the buffer
    reader = LineReader()
    for _ in range(2000):
        reader.feed(b'{"event": "x"}\n' * 50)
    assert len(reader.buffer) == 0


FAKE = textwrap.dedent('''
    import json, os, sys
    fd = int(sys.argv[1]); mode = sys.argv[2]
    plan = {plan!r}
    load = {load!r}
    def emit(obj):
        data = (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\\n"
        while data:
            data = data[os.write(fd, data):]
    emit(plan); emit(load)
    emit({{"event": "test_started", "name": "a"}})
    if mode == "soon":
        emit({{"event": "test_finished", "name": "a", "passed": True, "duration": "soon"}})
    elif mode == "huge":
        os.write(fd, b"x" * (200 * 1024 * 1024))
    elif mode == "replay":
        emit({{"event": "test_finished", "name": "a", "passed": True}})
        emit({{"event": "test_finished", "name": "a", "passed": True}})
    elif mode == "after_end":
        for e in {run!r}[2:]:
            emit(e)
        emit({{"event": "test_started", "name": "a"}})
    import time; time.sleep(30)
''').format(plan=PLAN, load=LOAD, run=good_run())


@pytest.mark.parametrize("mode", ["soon", "huge", "replay", "after_end"])
def test_a_verifier_that_breaks_the_protocol_gets_an_invalid_report_verdict(tmp_path, mode):
    script = tmp_path / "fake.py"
    script.write_text(FAKE, encoding="utf-8")
    event_r, event_w = os.pipe()
    output_r, output_w = os.pipe()
    proc = subprocess.Popen([sys.executable, str(script), str(event_w), mode], pass_fds=(event_w,),
                            stdout=output_w, stderr=output_w, start_new_session=True)
    os.close(event_w)
    os.close(output_w)
    started = time.perf_counter()
    try:
        events, stop, output, detail = supervise(PopenHandle(proc), event_r, output_r, started=started,
                                                 time_limit=25, memory_mb=4096)
    finally:
        os.close(event_r)
        os.close(output_r)
    assert stop == INVALID_REPORT, (stop, detail)  # not a timeout: the parent stopped at once
    result = build_result(load_course().exercise("corr2d"), "f.py", events, stop, proc.returncode, 25, 4096, detail)
    assert result.status == INVALID_REPORT and result.score == 0
    assert "invalid report" in result.problem and all(not t.passed for t in result.tests)
    assert proc.poll() is not None


def test_render_never_fails_on_odd_data():
    assert render({"code": "shape_mismatch", "params": {"call": "f()"}}).startswith("f()")
    assert "{expected}" in render({"code": "shape_mismatch", "params": {"call": "f()"}})
    assert render({"code": "grader", "msg": "plain {not a field}"}) == "plain {not a field}"
    assert render({"code": "grader", "msg": "{x:.2f}", "params": {"x": "text"}}) == "{x:.2f}"
    assert render({"code": "unknown_code", "params": {}}) == "unknown_code"
    assert render(None) == ""
