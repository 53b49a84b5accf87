"""What one call into the sandbox costs (run: python benchmarks/bench_remote.py). Numbers for the README.

Starts a real sandbox (tutor.engine.sandbox) over its socket, loads a small learner file and measures, as medians
of single calls (perf_counter_ns around each):
  * a call of `identity(X)` with a 3x4 float32 tensor (arguments and result copied both ways),
  * the same with a 256x256 tensor,
  * a call whose input requires grad, plus the backward pass through it (two round trips),
  * a learner nn.Module's forward (its parameters sent with every call).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LEARNER = '''
import torch
from torch import nn

def identity(X):
    return X

def double(X):
    return X * 2

class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, X):
        return self.lin(X)
'''


def median_us(fn, n: int = 2000, warmup: int = 200) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def main() -> None:
    sys.path.insert(0, str(REPO))
    import torch

    torch.set_num_threads(1)
    from tutor.engine.wire import Channel
    from tutor.grading.remote import Link

    tmp = Path(tempfile.mkdtemp(prefix="d2l-bench-remote-"))
    learner = tmp / "learner.py"
    learner.write_text(LEARNER, encoding="utf-8")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "tutor.engine.sandbox", "--channel", str(theirs.fileno())],
                            pass_fds=(theirs.fileno(),), env=env, cwd=tmp)
    theirs.close()
    link = Link(Channel(ours))
    names = link.load({"file": str(learner), "module": "learner", "forbidden": [], "threads": 1,
                       "devices": ["cpu"]})["names"]
    small, big = torch.randn(3, 4), torch.randn(256, 256)
    rows = [
        ("identity(X), X float32[3, 4]", median_us(lambda: names["identity"](small))),
        ("identity(X), X float32[256, 256] (256 KiB each way)", median_us(lambda: names["identity"](big), n=500)),
    ]
    leaf = torch.randn(3, 4, requires_grad=True)
    rows.append(("double(X) with X.requires_grad, then backward (2 round trips)",
                 median_us(lambda: names["double"](leaf).sum().backward(), n=1000)))
    net = names["Small"]()
    x = torch.randn(4, 8)
    with torch.no_grad():
        rows.append(("a learner nn.Linear(8, 8)'s forward, parameters sent along", median_us(lambda: net(x))))
    link.close()
    proc.wait(timeout=10)
    width = max(len(name) for name, _ in rows)
    print(f"{'one call into the sandbox':<{width}}  median µs")
    for name, us in rows:
        print(f"{name:<{width}}  {us:9.1f}")


if __name__ == "__main__":
    main()
