"""The sandbox: the only process that runs the learner's code (`python -m tutor.engine.sandbox --channel N`).

It imports torch, then, when the verifier says so, the learner's file, and from then on serves the verifier's
requests over its one channel (tutor.engine.wire): call a function, construct a class, run a module's forward
with parameters the verifier sends, read an attribute, run the backward pass of an earlier call, seed the random
number generators. Tensors come in and go out as copies. It never has the reference solution, the grader, an
expected value, the event channel to the parent, the progress database or any output path: a learner's file can
lie here about its own results, and nothing else.

Before the learner's file is imported the sandbox makes itself non-dumpable, closes every file descriptor but its
channel and its output, and in strict mode hides the course and the caller's files (tutor.engine.containment).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import random
import sys
import traceback
import types
from collections.abc import Iterator

SANDBOX_MODULE_NAMES = ("d2l_learner_",)
STDLIB_ON_REQUEST = frozenset({"collections", "types", "operator", "itertools", "functools"})


def close_other_fds(keep: set[int]) -> None:
    """Close every file descriptor except `keep` (and 0, 1, 2)."""
    keep = set(keep) | {0, 1, 2}
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def prepare(channel_fd: int, *, cover: list[str] = ()) -> None:
    """Process-wide settings before anything else: no core files, non-dumpable, only the channel left open, and
    (while the process still has one thread) the folders in `cover` hidden behind empty ones."""
    from tutor.engine import containment

    if cover:
        containment.cover_folders(list(cover))
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    containment.harden()
    close_other_fds({channel_fd})
    sys.dont_write_bytecode = True


def describe_exception(exc: BaseException, learner_file: str | None) -> dict:
    from tutor.engine.guard import ForbiddenCall
    from tutor.engine.wire import short_repr, type_name

    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a learner's exception whose __str__ raises
        message = ""
    if not isinstance(message, str):
        message = ""
    frames = []
    if learner_file:
        for f in traceback.extract_tb(exc.__traceback__):
            if f.filename == learner_file:
                frames.append([os.path.basename(learner_file), int(f.lineno or 0), str(f.name)[:100],
                               (f.line or "").strip()[:300]])
    info = {"type": type_name(exc), "message": message[:4000], "frames": frames[-5:],
            "mro": [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__][:24]}
    if isinstance(exc, ForbiddenCall):
        info["api"] = str(exc.api)
    if isinstance(exc, SystemExit):
        info["exit_code"] = short_repr(exc.code, 100)
    if isinstance(exc, SyntaxError):
        info["syntax"] = {"line": int(exc.lineno or 0), "offset": int(exc.offset or 0),
                          "text": (exc.text or "").rstrip("\n")[:300], "msg": str(exc.msg)[:300]}
    return info


def _signature(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, int(p.kind), p.default is not inspect.Parameter.empty] for p in sig.parameters.values()]


def _qualname(cls) -> str:
    return f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', getattr(cls, '__name__', '?'))}"


def _same_bits(a, b) -> bool:
    import torch

    if type(a) not in (torch.Tensor, torch.nn.Parameter) or a.shape != b.shape or a.dtype != b.dtype \
            or a.device != b.device:
        return False
    if a.device.type == "meta" or a.numel() == 0:
        return True
    x = a.detach().contiguous().reshape(-1).view(torch.uint8)
    y = b.detach().contiguous().reshape(-1).view(torch.uint8)
    return bool(torch.equal(x, y))


class CallbackFailed(Exception):
    """A function of the grader that the learner's code called raised; the learner's code cannot go on."""


class Graph:
    __slots__ = ("inputs", "outputs")

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs


class Sandbox:
    def __init__(self, channel):
        import torch

        self.torch = torch
        self.channel = channel
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.graphs: dict[int, Graph] = {}
        self.next_id = 1
        self.guard = None
        self.learner = None
        self.learner_file: str | None = None
        self.devices: set[str] = {"cpu", "meta"}

    # -- handles ---------------------------------------------------------------------------------------------

    def handle(self, obj) -> int:
        hid = self.ids.get(id(obj))
        if hid is None or self.objects.get(hid) is not obj:
            hid = self.next_id
            self.next_id += 1
            self.objects[hid] = obj
            self.ids[id(obj)] = hid
        return hid

    def reference(self, enc):
        """The Encoder hook: a handle (with a description) for an object that is not a plain value."""
        torch = self.torch
        from tutor.engine.wire import short_repr, type_name

        def ref(obj):
            if isinstance(obj, torch.Tensor):
                return None  # a tensor subclass or an odd layout: described, never sent by reference
            if isinstance(obj, CallbackRef):
                return {"C": obj.cid}
            if isinstance(obj, type):
                kind = "class"
            elif isinstance(obj, torch.nn.Module):
                kind = "module"
            elif isinstance(obj, types.ModuleType):
                kind = "namespace"
            elif callable(obj):
                kind = "function"
            elif isinstance(obj, Iterator):
                kind = "object"  # a generator or another iterator: kept here, drawn from with `take`
            elif type(obj).__module__.split(".")[0] in ("numpy", "builtins"):
                return None  # numpy arrays, sets, bytes ...: a description is enough
            else:
                kind = "object"
            info = {"H": self.handle(obj), "kind": kind, "type": type_name(obj),
                    "name": str(getattr(obj, "__name__", ""))[:200] if kind in ("class", "function") else "",
                    "repr": short_repr(obj)}
            if kind in ("class", "function"):
                info["sig"] = _signature(obj)
            cls = obj if isinstance(obj, type) else type(obj)
            info["mro"] = [_qualname(c) for c in getattr(cls, "__mro__", ())][:32]
            if kind == "module":
                info["tree"] = self.module_tree(obj, enc)
            return info

        return ref

    def module_tree(self, module, enc) -> dict:
        from torch.nn.parameter import UninitializedParameter, UninitializedBuffer

        from tutor.engine.wire import DTYPE_NAMES, type_name

        if "_parameters" not in vars(module):
            return {"broken": True}
        modules = [[name, type_name(sub), bool(getattr(sub, "training", True))]
                   for name, sub in module.named_modules(remove_duplicate=False)]
        params = []
        for name, p in module.named_parameters(remove_duplicate=False):
            if isinstance(p, UninitializedParameter):
                params.append([name, {"lazy": DTYPE_NAMES.get(p.dtype, "float32"), "rg": bool(p.requires_grad)}])
            else:
                params.append([name, {"X": enc.tensor(p)}])
        buffers = []
        for name, b in module.named_buffers(remove_duplicate=False):
            owner_name, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_name) if owner_name else module
            persistent = leaf not in getattr(owner, "_non_persistent_buffers_set", set())
            if b is None or isinstance(b, UninitializedBuffer):
                continue
            buffers.append([name, {"X": enc.tensor(b)}, persistent])
        return {"modules": modules, "params": params, "buffers": buffers}

    # -- the loop ----------------------------------------------------------------------------------------------

    def serve(self) -> None:
        from tutor.engine.wire import ChannelClosed

        while True:
            try:
                header, blobs = self.channel.recv()
            except ChannelClosed:
                return
            if header.get("op") == "exit":
                return
            header, out = self.dispatch(header, blobs)
            self.channel.send(header, out)

    def dispatch(self, header: dict, blobs) -> tuple[dict, list]:
        from tutor.engine.wire import BadMessage, Encoder

        self.release(header.get("release"))
        op = header.get("op")
        try:
            handler = getattr(self, f"op_{op}", None) if isinstance(op, str) and op.isidentifier() else None
            if handler is None:
                raise BadMessage(f"unknown request {op!r}")
            return handler(header, blobs)
        except BadMessage as exc:
            return {"op": "reply", "fatal": str(exc)[:500]}, []
        except BaseException as exc:  # noqa: BLE001 - a failure of the learner's code, described
            enc = Encoder()
            reply = {"op": "reply", "error": describe_exception(exc, self.learner_file), "t": []}
            reply["forbidden"] = self.guard.take_violations() if self.guard else []
            return enc.message(reply)

    def release(self, data) -> None:
        if not isinstance(data, dict):
            return
        for gid in data.get("graphs", []) if isinstance(data.get("graphs"), list) else []:
            self.graphs.pop(gid, None) if isinstance(gid, int) else None

    # -- decoding the verifier's values -------------------------------------------------------------------------

    def decode(self, header, blobs):
        """A Decoder whose tensors are what the learner's code will see, plus the bookkeeping for autograd and
        for telling the verifier which inputs the call changed."""
        torch = self.torch
        from tutor.engine.wire import BadMessage, Decoder

        dec = Decoder(header, blobs, handle=self._resolve, callback=self._callback,
                      device_ok=lambda d: d in self.devices or d.split(":")[0] in self.devices)
        raw = dec.tensors
        facing, diff = [], []
        for entry, t in zip(dec.entries, raw):
            wants_grad = entry.get("rg", False) and (t.is_floating_point() or t.is_complex())
            if wants_grad:
                base = torch.nn.Parameter(t.clone()) if entry.get("param") else t.clone().requires_grad_(True)
                diff.append(base)
                facing.append(base if entry.get("leaf", True) else base.clone())
            else:
                diff.append(None)
                facing.append(torch.nn.Parameter(t.clone(), requires_grad=False) if entry.get("param")
                              else t.clone())
        dec.tensors = facing
        dec.raw = raw
        dec.diff = diff
        if len(raw) > 100_000:
            raise BadMessage("too many tensors in one request")
        return dec

    def _resolve(self, v):
        from tutor.engine.wire import BadMessage

        hid = v.get("H")
        if type(hid) is not int or hid not in self.objects:
            raise BadMessage("a handle that is not known here")
        return self.objects[hid]

    def _callback(self, v):
        cid = v.get("C")
        if type(cid) is not int:
            from tutor.engine.wire import BadMessage

            raise BadMessage("a malformed callback")
        return CallbackRef(self, cid)

    # -- encoding results -----------------------------------------------------------------------------------------

    def result(self, value, dec, *, grad: bool, extra: dict | None = None, check_mutation=True) -> tuple[dict, list]:
        from tutor.engine.wire import Encoder, flatten_tensors

        enc = Encoder(reference=None)
        enc.reference = self.reference(enc)
        reply = {"op": "reply", "ok": enc.value(value)}
        if check_mutation:
            mutated = []
            for i, (now, before) in enumerate(zip(dec.tensors, dec.raw)):
                if not _same_bits(now, before):
                    mutated.append([i, enc.tensor(now.detach()) if type(now) in (self.torch.Tensor,
                                                                                  self.torch.nn.Parameter) else -1])
            reply["mutated"] = mutated
        inputs = [(i, t) for i, t in enumerate(dec.diff) if t is not None]
        if grad and inputs:
            outputs = [t for t in flatten_tensors(value) if t.requires_grad]
            if outputs:
                gid = self.next_id
                self.next_id += 1
                self.graphs[gid] = Graph([t for _, t in inputs], outputs)
                reply["graph"] = gid
                reply["din"] = [i for i, _ in inputs]
                reply["dout"] = [enc.tensor(t) for t in outputs]
        if extra:
            reply.update(extra)
        reply["forbidden"] = self.guard.take_violations() if self.guard else []
        return enc.message(reply)

    # -- requests ---------------------------------------------------------------------------------------------------

    def op_ping(self, header, blobs):
        dec = self.decode(header, blobs)
        return self.result(dec.value(header.get("args", [])), dec, grad=False, check_mutation=False)

    def op_load(self, header, blobs):
        """Set up isolation, install the guard and import the learner's file; describe its top-level names."""
        torch = self.torch
        from tutor.engine import containment
        from tutor.engine.guard import Guard

        cfg = header
        self.devices |= {str(d) for d in cfg.get("devices", [])}
        torch.set_num_threads(max(1, int(cfg.get("threads", 1))))
        if cfg.get("deterministic"):
            torch.use_deterministic_algorithms(True, warn_only=True)
        isolation = cfg.get("isolation", "process")
        path = str(cfg["file"])
        if isolation == "user":
            try:
                with open(path, "rb") as fh:
                    source = fh.read()
                path = containment.enter_user_isolation(uid=int(cfg["uid"]), hidden=list(cfg.get("hide", [])),
                                                        learner_source=source, learner_name=os.path.basename(path))
            except OSError:
                isolation = "process"
        secrets = [p for p in cfg.get("secrets", []) if isinstance(p, str)]
        if isolation != "process" and not all(containment.hidden_from(p) for p in secrets):
            isolation = "process"  # the course is still readable: do not claim what did not happen
        self.guard = Guard(cfg.get("forbidden", []))
        self.guard.install()
        self.learner_file = path
        if cfg.get("add_dir_to_path"):
            sys.path.append(os.path.dirname(path))
        os.environ.pop("PYTHONPATH", None)
        error = None
        try:
            if cfg.get("given"):
                install_given(cfg["given"])
            spec = importlib.util.spec_from_file_location(str(cfg.get("module", "d2l_learner")), path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {os.path.basename(path)}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self.learner = module
        except BaseException as exc:  # noqa: BLE001 - a broken file is a verdict, not a crash
            error = describe_exception(exc, path)
        from tutor.engine.wire import Encoder, type_name

        enc = Encoder()
        enc.reference = self.reference(enc)
        names = {}
        if self.learner is not None:
            for name, value in list(vars(self.learner).items())[:5000]:
                if name.startswith("__"):
                    continue
                if callable(value) and not isinstance(value, torch.Tensor):
                    names[name] = value
                else:
                    names[name] = {"kind": "value", "type": type_name(value)}
        answer = {"names": names, "error": error, "isolation": isolation, "violations": self.guard.take_violations()}
        return enc.message({"op": "reply", "ok": enc.value(answer)})

    def op_seed(self, header, blobs):
        seed = int(header.get("seed", 0))
        self.torch.manual_seed(seed)
        random.seed(seed)
        np = sys.modules.get("numpy")
        if np is not None:
            try:
                np.random.seed(seed % (2 ** 32))
            except Exception:  # noqa: BLE001
                pass
        if header.get("new_test"):
            self.graphs.clear()
            if self.guard:
                self.guard.take_violations()
        return {"op": "reply", "ok": None, "t": []}, []

    def op_call(self, header, blobs):
        torch = self.torch
        dec = self.decode(header, blobs)
        target = self._resolve({"H": header.get("target")})
        args = dec.value(header.get("args", []))
        kwargs = dec.value(header.get("kwargs", {"D": []}))
        if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            from tutor.engine.wire import BadMessage

            raise BadMessage("malformed call arguments")
        grad = header.get("grad") is True
        with torch.set_grad_enabled(grad):
            value = target(*args, **kwargs)
        return self.result(value, dec, grad=grad)

    def op_module_call(self, header, blobs):
        """Run a learner module's forward with the verifier's parameters and buffers put in its place."""
        torch = self.torch
        from tutor.engine.wire import BadMessage, Encoder

        dec = self.decode(header, blobs)
        module = self._resolve({"H": header.get("target")})
        if not isinstance(module, torch.nn.Module):
            raise BadMessage("module_call on something that is not a module")
        args = dec.value(header.get("args", []))
        kwargs = dec.value(header.get("kwargs", {"D": []}))
        state = dec.value(header.get("state", []))
        buffers = dec.value(header.get("buffers", []))
        training = header.get("training", [])
        lazy_before = {name for name, p in module.named_parameters(remove_duplicate=False)
                       if isinstance(p, torch.nn.parameter.UninitializedParameter)}
        swaps = []
        try:
            for name, flag in training:
                sub = module.get_submodule(name) if name else module
                sub.training = bool(flag)
            for table, items in (("_parameters", state), ("_buffers", buffers)):
                for name, tensor in items:
                    owner_name, _, leaf = str(name).rpartition(".")
                    owner = module.get_submodule(owner_name) if owner_name else module
                    slots = vars(owner)[table]
                    swaps.append((slots, leaf, slots.get(leaf)))
                    slots[leaf] = tensor
            grad = header.get("grad") is True
            with torch.set_grad_enabled(grad):
                value = module(*args, **kwargs)
        finally:
            for slots, leaf, old in reversed(swaps):
                slots[leaf] = old
        materialized = []
        enc_extra = {}
        if lazy_before:
            for name, p in module.named_parameters(remove_duplicate=False):
                if name in lazy_before and not isinstance(p, torch.nn.parameter.UninitializedParameter):
                    materialized.append([name, p.detach()])
        header_out, out = self.result(value, dec, grad=header.get("grad") is True)
        if materialized:
            # a second, small message part: the lazily created parameters, by value
            enc = Encoder()
            enc.entries, enc.blobs = header_out["t"], out
            enc_extra = [[name, enc.tensor(t)] for name, t in materialized]
            header_out["materialized"] = enc_extra
        return header_out, out

    def op_getattr(self, header, blobs):
        dec = self.decode(header, blobs)
        target = self._resolve({"H": header.get("target")})
        name = header.get("name")
        if type(name) is not str or not name.isidentifier():
            from tutor.engine.wire import BadMessage

            raise BadMessage("a malformed attribute name")
        return self.result(getattr(target, name), dec, grad=False, check_mutation=False)

    def op_take(self, header, blobs):
        """The first `limit` items of an iterable object here (a learner's generator): a list the verifier can read,
        with one more item than `limit` when the iterable goes on (so the verifier can say it never ends)."""
        import itertools

        from tutor.engine.wire import BadMessage

        dec = self.decode(header, blobs)
        target = self._resolve({"H": header.get("target")})
        limit = header.get("limit")
        if type(limit) is not int or not 0 <= limit <= 100_000:
            raise BadMessage("a malformed limit")
        return self.result(list(itertools.islice(iter(target), limit + 1)), dec, grad=False, check_mutation=False)

    def op_backward(self, header, blobs):
        torch = self.torch
        from tutor.engine.wire import BadMessage, Encoder

        graph = self.graphs.get(header.get("graph"))
        if graph is None:
            raise BadMessage("backward through a graph that was released")
        dec = self.decode(header, blobs)
        grads = dec.value(header.get("grads", []))
        if type(grads) is not list or len(grads) != len(graph.outputs):
            raise BadMessage("backward with the wrong number of gradients")
        outputs, grad_outputs = [], []
        for out, g in zip(graph.outputs, grads):
            if g is None:
                continue
            outputs.append(out)
            grad_outputs.append(g.to(out.device) if g.device != out.device else g)
        if outputs and not any(o.is_complex() for o in outputs):
            # The vector-Jacobian product as the gradient of one scalar, Σ <out, g>: the same numbers, without the
            # explicit grad_outputs that make torch import sympy (0.3 s) on its first use.
            total = sum((o * g).sum() for o, g in zip(outputs, grad_outputs))
            found = torch.autograd.grad(total, graph.inputs, allow_unused=True, retain_graph=True)
        elif outputs:
            found = torch.autograd.grad(outputs, graph.inputs, grad_outputs, allow_unused=True, retain_graph=True)
        else:
            found = [None] * len(graph.inputs)
        enc = Encoder()
        reply = {"op": "reply", "ok": [None if g is None else {"X": enc.tensor(g.detach())} for g in found],
                 "forbidden": self.guard.take_violations() if self.guard else []}
        return enc.message(reply)

    def op_import(self, header, blobs):
        """A handle on a torch module, or on one of a few standard-library modules whose containers a grader builds
        learner arguments from (a UserList of parameters, a SimpleNamespace with .params, an attrgetter)."""
        name = header.get("name")
        if type(name) is not str or not (name == "torch" or name.startswith("torch.") or name in STDLIB_ON_REQUEST):
            from tutor.engine.wire import BadMessage

            raise BadMessage("only torch modules and " + ", ".join(sorted(STDLIB_ON_REQUEST)) + " can be imported "
                             "on request")
        module = importlib.import_module(name)
        return self.result(module, self.decode(header, blobs), grad=False, check_mutation=False)

    # -- calling back into the verifier ----------------------------------------------------------------------------

    def call_back(self, cid: int, args, kwargs):
        torch = self.torch
        from tutor.engine.wire import BadMessage, Decoder, Encoder

        enc = Encoder()
        enc.reference = self.reference(enc)
        request = {"op": "callback", "id": cid, "args": enc.value(list(args)), "kwargs": enc.value(dict(kwargs)),
                   "forbidden": self.guard.take_violations() if self.guard else []}
        self.channel.send(*enc.message(request))
        while True:
            header, blobs = self.channel.recv()
            if header.get("op") == "reply":
                if header.get("error"):
                    raise CallbackFailed(str(header["error"])[:300])
                dec = Decoder(header, blobs, handle=self._resolve, callback=self._callback,
                              device_ok=lambda d: d in self.devices or d.split(":")[0] in self.devices)
                return dec.value(header.get("ok"))
            if header.get("op") == "exit":
                os._exit(0)
            reply, out = self.dispatch(header, blobs)  # a nested request while the callback runs
            self.channel.send(reply, out)


def install_given(spec: dict) -> None:
    """Put this exercise's given helpers in tutor.given's place (see tutor/given.py).

    `spec` comes from the verifier: `names` (what this exercise is given), `providers` (name -> the exercise whose
    reference defines it) and `sources` (those references, in course order, each with the names it is given in
    turn). Each reference runs in a module of its own, seeing its own given names only; what the learner's file
    sees at the end is a tutor.given with exactly `names`.
    """
    import types

    from tutor.given import not_given_message

    providers = dict(spec.get("providers", {}))
    spaces: dict[str, types.ModuleType] = {}

    def view(names, owner):
        module = types.ModuleType("tutor.given", "The given helpers of this exercise.")
        for name in names:
            setattr(module, name, getattr(spaces[providers[name]], name))

        def missing(name):
            if name.startswith("__"):
                raise AttributeError(name)
            raise ImportError(not_given_message(name, sorted(names), owner))

        module.__getattr__ = missing
        sys.modules["tutor.given"] = module
        return module

    for item in spec.get("sources", []):
        view(item.get("given", []), item["id"])
        space = types.ModuleType(f"d2l_given_{item['id']}")
        sys.modules[space.__name__] = space
        exec(compile(item["source"], f"<given: the reference of {item['id']}>", "exec"), space.__dict__)
        spaces[item["id"]] = space
    import tutor

    tutor.given = view(spec.get("names", []), spec.get("exercise"))


class CallbackRef:
    """A function of the verifier, as the learner's code sees it: calling it asks the verifier to run it."""

    __slots__ = ("sandbox", "cid")

    def __init__(self, sandbox: Sandbox, cid: int):
        self.sandbox, self.cid = sandbox, cid

    def __call__(self, *args, **kwargs):
        return self.sandbox.call_back(self.cid, args, kwargs)

    def __repr__(self) -> str:
        return "<a function of the grader>"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import socket

    parser = argparse.ArgumentParser(prog="tutor.engine.sandbox")
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--cover", action="append", default=[])
    args = parser.parse_args(argv)
    prepare(args.channel, cover=args.cover)
    import torch  # noqa: F401 - before the verifier asks for anything: the slow part, done while it starts too

    from tutor.engine import guard, wire  # noqa: F401

    run(socket.socket(fileno=args.channel))
    return 0


def run(sock) -> None:
    from tutor.engine.wire import Channel

    Sandbox(Channel(sock)).serve()


if __name__ == "__main__":
    try:
        main()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0)  # never wait for threads the learner's code left running
