"""The verifier's proxies for learner code (tutor.grading.remote) against a real sandbox process: values, autograd
across the boundary, module mirrors (buffers, lazy and tied parameters), callbacks, changed inputs, exceptions."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from tests.conftest import REPO
from tutor.engine.wire import Channel, Opaque
from tutor.grading.remote import (Link, RemoteClass, RemoteError, RemoteFunction, RemoteModule, RemoteObject,
                                  SandboxBroken)

LEARNER = textwrap.dedent('''
    import numpy as np
    import torch
    from torch import nn

    def echo(*args, **kwargs):
        return args, kwargs

    def square_sum(X):
        return (X ** 2).sum()

    def detached(X):
        return (X * 2).detach()

    def unused(X, Y):
        return X * 3

    def scale_in_place(X):
        X.mul_(2)
        return X.sum()

    def new_leaf():
        return torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True) * 2

    def with_callback(f, x):
        return f(x) + 1

    def boom(X):
        raise ValueError("no " + "luck")

    def to_numpy(X):
        return X.numpy()

    def count_up(n):
        for i in range(n):
            yield torch.full((2,), float(i))

    def endless():
        while True:
            yield 1

    def fails_midway():
        yield 1
        raise KeyError("second")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)
            self.norm = nn.BatchNorm1d(2)
            self.lazy = nn.LazyLinear(4)
            self.tied = self.lin   # the same module under two names: its parameters are shared

        def forward(self, x):
            self.seen = x.shape[0]
            return self.lazy(self.norm(self.lin(x)))

    class Broken(nn.Module):
        def __init__(self):
            pass
''')


@pytest.fixture(scope="module")
def names(tmp_path_factory):
    path = tmp_path_factory.mktemp("remote") / "learner.py"
    path.write_text(LEARNER, encoding="utf-8")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    proc = subprocess.Popen([sys.executable, "-m", "tutor.engine.sandbox", "--channel", str(theirs.fileno())],
                            pass_fds=(theirs.fileno(),), env=dict(os.environ, PYTHONPATH=str(REPO)))
    theirs.close()
    link = Link(Channel(ours))
    answer = link.load({"file": str(path), "module": "learner", "forbidden": [], "threads": 1, "devices": ["cpu"]})
    assert answer["error"] is None
    yield answer["names"]
    link.close()
    proc.wait(timeout=10)


def test_values_travel_as_they_are(names):
    X = torch.arange(6.0).reshape(2, 3)
    args, kwargs = names["echo"](1, 2.5, "s", None, True, [1, (2, 3)], torch.device("cpu"), torch.float16, X,
                                 key={"a": X})
    assert args[:8] == (1, 2.5, "s", None, True, [1, (2, 3)], torch.device("cpu"), torch.float16)
    assert torch.equal(args[8], X) and args[8] is not X and torch.equal(kwargs["key"]["a"], X)
    assert isinstance(names["to_numpy"](X), Opaque) and names["to_numpy"](X).module.startswith("numpy")
    assert isinstance(names["echo"], RemoteFunction) and isinstance(names["Net"], RemoteClass)
    assert str(names["unused"].signature) == "(X, Y)"


def test_a_generator_stays_in_the_sandbox_and_is_drawn_with_take(names):
    link = names["count_up"]._link
    gen = names["count_up"](3)
    assert isinstance(gen, RemoteObject) and gen.type_qualname == "generator"
    items = link.take(gen, 10)
    assert [t.tolist() for t in items] == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    assert link.take(gen, 10) == []  # used up, as a generator is
    assert link.take(names["endless"](), 5) == [1] * 6  # limit + 1: it did not stop
    with pytest.raises(RemoteError, match="second"):
        link.take(names["fails_midway"](), 5)
    # the few standard-library modules a grader may build learner arguments from
    params = link.import_module("types").SimpleNamespace(params=link.import_module("collections").UserList([1, 2]))
    assert link.take(params.params, 5) == [1, 2]


def test_autograd_crosses_the_boundary(names):
    X = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(names["square_sum"](X), X)
    assert torch.allclose(g, 2 * X.detach())
    assert names["detached"](X).requires_grad is False
    Y = torch.randn(2, requires_grad=True)
    gx, gy = torch.autograd.grad(names["unused"](X, Y).sum(), (X, Y), allow_unused=True)
    assert torch.allclose(gx, torch.full_like(X, 3.0)) and gy is None
    with torch.no_grad():
        assert names["square_sum"](X).requires_grad is False


def test_leaf_and_requires_grad_come_back_as_made(names):
    leaf, computed = names["new_leaf"]()
    assert leaf.requires_grad and leaf.is_leaf
    assert computed.requires_grad and not computed.is_leaf


def test_inputs_changed_in_place_are_reported_not_applied(names):
    X = torch.ones(3)
    total = names["scale_in_place"](X)
    assert float(total) == 6.0
    assert torch.equal(X, torch.ones(3))  # the verifier's tensor is untouched
    assert torch.equal(names["scale_in_place"].mutated(X), torch.full((3,), 2.0))
    names["square_sum"](X)
    assert names["square_sum"].mutated(X) is None


def test_callbacks_run_in_the_verifier(names):
    seen = []

    def f(x):
        seen.append(x.clone())
        return x * 10

    assert torch.equal(names["with_callback"](f, torch.ones(2)), torch.full((2,), 11.0))
    assert len(seen) == 1


def test_exceptions_come_back_as_data(names):
    with pytest.raises(RemoteError) as info:
        names["boom"](torch.ones(1))
    err = info.value
    assert err.type_name == "ValueError" and err.message == "no luck" and err.is_a("builtins.ValueError")
    assert err.info["frames"][-1][1] > 0 and err.info["frames"][-1][0] == "learner.py"


def test_a_learner_module_is_mirrored_with_its_state(names):
    torch.manual_seed(0)
    net = names["Net"]()
    assert isinstance(net, RemoteModule) and net.is_instance_of(nn.Module)
    assert net.lin.weight is net.tied.weight  # shared parameters stay shared
    x = torch.randn(5, 3)
    out = net(x)
    assert out.shape == (5, 4) and out.requires_grad
    assert net.seen == 5  # an attribute set by forward, read from the sandbox
    assert not torch.equal(net.norm.running_mean, torch.zeros(2))  # BatchNorm's statistics came back
    assert net.lazy.weight.shape == (4, 2)  # the lazy layer took its shape in the first forward
    out.sum().backward()
    assert net.lin.weight.grad is not None and net.norm.weight.grad is not None
    with torch.no_grad():
        net.lin.weight.zero_()
        net.lin.bias.fill_(1.0)
    net.eval()
    again = net(x)
    assert torch.allclose(again, again[0].expand_as(again))  # every row the same: the new weights were used
    assert {"lin.weight", "norm.running_mean", "lazy.weight"} <= set(net.state_dict())
    # the sandbox's own module behind the mirror: a handle that learner code can be given
    own = net.in_sandbox()
    assert isinstance(own, RemoteObject) and own.type_qualname == "Net" and own.seen == 5
    assert own.training is False  # the last forward ran there in the mirror's eval mode


def test_super_init_forgotten_is_reported(names):
    net = names["Broken"]()
    assert net.broken
    with pytest.raises(RemoteError):
        net(torch.ones(1))


def test_a_sandbox_that_breaks_the_protocol_is_not_trusted():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    link = Link(Channel(a))
    b.sendall(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"not json at all!")
    with pytest.raises(SandboxBroken):
        link.ping()
    a.close()
    b.close()
