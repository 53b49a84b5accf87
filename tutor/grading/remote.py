"""The verifier's view of the learner's code: proxies that run it in the sandbox (tutor.engine.sandbox).

`Link` is the verifier's end of the channel. `RemoteFunction` (a learner function), `RemoteClass`,
`RemoteModule` (an nn.Module whose parameters and buffers live here, in the verifier, and whose forward runs in
the sandbox with them put in place) and `RemoteObject` behave like the objects they stand for, as far as the
graders need: calls, construction, `state_dict`, `.to()`, `.train()`, optimizers and autograd.

Autograd crosses the boundary: when a call's inputs require grad, its outputs come back attached to the
verifier's graph through `_Bridge`, a torch.autograd.Function whose backward asks the sandbox for the
vector-Jacobian product of that call. Values the verifier passes are copies: whatever the learner's code does to
them in the sandbox never reaches the verifier's tensors. Whether a call changed its inputs comes back as data
(`RemoteFunction.mutated(X)`), so "X is left unchanged" tests can still be written.
"""

from __future__ import annotations

import inspect
import weakref

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from tutor.engine.wire import (
    BadMessage,
    ChannelClosed,
    Decoder,
    Encoder,
    Opaque,
    flatten_tensors,
)


class RemoteError(Exception):
    """The learner's code raised in the sandbox; `info` says what (type, message, the learner's own frames)."""

    def __init__(self, info: dict):
        super().__init__(str(info.get("message", "")))
        self.info = info

    @property
    def type_name(self) -> str:
        t = self.info.get("type") or ["", "Exception"]
        return str(t[1])

    def is_a(self, qualified: str) -> bool:
        return qualified in (self.info.get("mro") or [])

    @property
    def message(self) -> str:
        return str(self.info.get("message", ""))


class SandboxGone(Exception):
    """The sandbox process ended (crashed, exited, or was killed) while the verifier needed it."""


class SandboxBroken(Exception):
    """The sandbox sent something that breaks the protocol: it cannot be trusted for the rest of the run."""


def _check_info(v: dict) -> dict:
    """Validate a handle description from the sandbox."""
    if type(v.get("H")) is not int or v.get("kind") not in ("function", "class", "module", "object", "namespace"):
        raise BadMessage("a malformed handle")
    t = v.get("type")
    if type(t) is not list or len(t) != 2 or not all(type(s) is str and len(s) < 1000 for s in t):
        raise BadMessage("a handle with a malformed type")
    for key in ("name", "repr"):
        if type(v.get(key, "")) is not str or len(v.get(key, "")) > 4096:
            raise BadMessage("a handle with a malformed name")
    mro = v.get("mro", [])
    if type(mro) is not list or len(mro) > 64 or not all(type(s) is str and len(s) < 1000 for s in mro):
        raise BadMessage("a handle with a malformed class list")
    sig = v.get("sig")
    if sig is not None:
        if type(sig) is not list or len(sig) > 256 or not all(
                type(p) is list and len(p) == 3 and type(p[0]) is str and p[0].isidentifier() and type(p[1]) is int
                and 0 <= p[1] <= 4 and type(p[2]) is bool for p in sig):
            raise BadMessage("a handle with a malformed signature")
    return v


def _bad_name(leaf: str) -> bool:
    """A submodule, parameter or buffer name PyTorch itself would refuse: empty, or with a dot (nn.Module's rule;
    nn.Sequential's children are named '0', '1', ..., which are not identifiers)."""
    return type(leaf) is not str or not leaf or "." in leaf


def signature_of(sig) -> inspect.Signature | None:
    if sig is None:
        return None
    params = []
    try:
        for name, kind, has_default in sig:
            params.append(inspect.Parameter(name, inspect._ParameterKind(kind),
                                            default=None if has_default else inspect.Parameter.empty))
        return inspect.Signature(params)
    except (ValueError, TypeError):
        return None


class _Remote:
    """What every proxy shares: the link and the sandbox's description of the object."""

    def __init__(self, link: "Link", info: dict):
        self._link = link
        self._info = info
        self.hid = info["H"]

    @property
    def type_module(self) -> str:
        return self._info["type"][0]

    @property
    def type_qualname(self) -> str:
        return self._info["type"][1]

    @property
    def mro(self) -> list[str]:
        return list(self._info.get("mro", []))

    def is_instance_of(self, cls: type) -> bool:
        return f"{cls.__module__}.{cls.__qualname__}" in self.mro

    @property
    def signature(self) -> inspect.Signature | None:
        return signature_of(self._info.get("sig"))

    def __repr__(self) -> str:
        return self._info.get("repr") or f"<{self.type_qualname}>"


class RemoteFunction(_Remote):
    """A learner function (or any callable of the sandbox)."""

    @property
    def __name__(self) -> str:  # noqa: D401 - mirrors a function's attribute
        return self._info.get("name") or self.type_qualname

    def __call__(self, *args, **kwargs):
        return self._link.call(self.hid, args, kwargs)

    def mutated(self, tensor: torch.Tensor) -> torch.Tensor | None:
        """The value `tensor` had in the sandbox after the last call of any learner code, if that call changed
        it; None when it was left as it was."""
        return self._link.mutated(tensor)


class RemoteClass(RemoteFunction):
    """A learner class: calling it constructs an instance in the sandbox."""

    def is_subclass_of(self, cls: type) -> bool:
        return f"{cls.__module__}.{cls.__qualname__}" in self.mro

    @property
    def bases(self) -> list[str]:
        mro = self.mro
        return [m.rsplit(".", 1)[-1] for m in mro[1:2]]


class RemoteObject(_Remote):
    """Any other object of the sandbox: attributes are read there, calls run there."""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._link.getattr(self.hid, name)

    def __call__(self, *args, **kwargs):
        return self._link.call(self.hid, args, kwargs)


class _Mirror(nn.Module):
    """A submodule of a RemoteModule: holds the parameters and buffers of the learner's submodule of that name."""

    def __init__(self, type_name: list[str]):
        super().__init__()
        self._d2l_type = type_name
        self._register_load_state_dict_pre_hook(_materialize_before_load, with_module=True)

    def _get_name(self) -> str:
        return self._d2l_type[1].rsplit(".", 1)[-1]

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # as LazyModuleMixin does: a lazy (not yet shaped) parameter is saved as it is
        for name, param in self._parameters.items():
            if param is not None:
                lazy = isinstance(param, nn.parameter.UninitializedParameter)
                destination[prefix + name] = param if keep_vars or lazy else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def forward(self, *args, **kwargs):
        raise TypeError(f"{self._get_name()} is part of a learner's module; call the whole module")


def _materialize_before_load(module, state_dict, prefix, *args):
    """load_state_dict into a lazy parameter: give it the incoming shape first (as LazyModuleMixin does)."""
    for name, p in list(module._parameters.items()):
        key = prefix + name
        if isinstance(p, nn.parameter.UninitializedParameter) and key in state_dict:
            with torch.no_grad():
                p.materialize(state_dict[key].shape, device=p.device, dtype=state_dict[key].dtype)


class RemoteModule(_Mirror):
    """A learner nn.Module. Its parameters and buffers are real tensors of the verifier (so optimizers, state_dict,
    load_state_dict, .to() and .train()/.eval() work as usual); forward runs the learner's code in the sandbox with
    these tensors put in place of the module's own."""

    def __init__(self, link: "Link", info: dict, dec: Decoder):
        super().__init__(info["type"])
        self._d2l_ready = False
        self._d2l_link = link
        self._d2l_info = info
        self._d2l_hid = info["H"]
        tree = info.get("tree") or {}
        if tree.get("broken"):
            self._d2l_broken = True
            self._d2l_ready = True
            return
        self._d2l_broken = False
        try:
            modules = tree["modules"]
            params = tree["params"]
            buffers = tree["buffers"]
            by_name: dict[str, nn.Module] = {"": self}
            for name, type_name, training in modules:
                if type(name) is not str or type(training) is not bool:
                    raise BadMessage("a malformed module tree")
                if name and name not in by_name:
                    parent, _, leaf = name.rpartition(".")
                    if parent not in by_name or _bad_name(leaf):
                        raise BadMessage("a module tree out of order")
                    child = _Mirror(type_name)
                    by_name[parent].add_module(leaf, child)
                    by_name[name] = child
                by_name[name].training = training
            made: dict[int, nn.Parameter] = {}
            for name, ref in params:
                owner, _, leaf = str(name).rpartition(".")
                if owner not in by_name or _bad_name(leaf):
                    raise BadMessage("a parameter of an unknown submodule")
                if "lazy" in ref:
                    param = nn.parameter.UninitializedParameter(requires_grad=bool(ref.get("rg", True)))
                else:
                    i = ref["X"]
                    if i not in made:
                        t = dec.value(ref)
                        made[i] = t if isinstance(t, nn.Parameter) else nn.Parameter(t, requires_grad=t.requires_grad)
                    param = made[i]
                by_name[owner].register_parameter(leaf, param)
            for name, ref, persistent in buffers:
                owner, _, leaf = str(name).rpartition(".")
                if owner not in by_name or _bad_name(leaf) or type(persistent) is not bool:
                    raise BadMessage("a buffer of an unknown submodule")
                by_name[owner].register_buffer(leaf, dec.value(ref).detach(), persistent=persistent)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadMessage(f"a malformed module description ({type(exc).__name__}: {exc})") from None
        self._d2l_ready = True

    @property
    def hid(self) -> int:
        return self._d2l_hid

    @property
    def type_qualname(self) -> str:
        return self._d2l_info["type"][1]

    @property
    def mro(self) -> list[str]:
        return list(self._d2l_info.get("mro", []))

    def is_instance_of(self, cls: type) -> bool:
        return f"{cls.__module__}.{cls.__qualname__}" in self.mro

    def is_instance(self, remote_class) -> bool:
        """Whether this module is an instance of a learner class (a RemoteClass), judged by class names."""
        return isinstance(remote_class, RemoteClass) and bool(remote_class.mro) and remote_class.mro[0] in self.mro

    @property
    def broken(self) -> bool:
        """True when the learner's __init__ never called super().__init__(), so there is no module to mirror."""
        return self._d2l_broken

    def in_sandbox(self) -> "RemoteObject":
        """The sandbox's own module behind this mirror, as a plain handle: an argument learner code can receive
        (it calls net.eval(), net.parameters() ... on a real module), and whose attributes and methods run there.
        The mirror's tensors are not put in place for it: load what it needs with load_state_dict first."""
        info = {"H": self._d2l_hid, "kind": "object", "type": list(self._d2l_info["type"]), "mro": self.mro,
                "repr": self._d2l_info.get("repr", "")}
        return RemoteObject(self._d2l_link, info)

    def forward(self, *args, **kwargs):
        return self._d2l_link.module_call(self, args, kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or not self.__dict__.get("_d2l_ready"):
                raise
        return self._d2l_link.getattr(self._d2l_hid, name)


class _GraphRef:
    """Keeps a sandbox graph alive while the verifier's graph references it; released when collected."""

    __slots__ = ("link", "gid", "n_in", "shapes", "__weakref__")

    def __init__(self, link: "Link", gid: int, inputs: list[torch.Tensor]):
        self.link, self.gid, self.n_in = link, gid, len(inputs)
        self.shapes = [(t.shape, t.dtype, t.device) for t in inputs]
        weakref.finalize(self, link._releases.append, gid)


class _Bridge(torch.autograd.Function):
    """Attaches a remote call's outputs to the verifier's graph: backward asks the sandbox for the gradients."""

    @staticmethod
    def forward(ctx, ref: _GraphRef, *tensors):
        ctx.ref = ref
        ctx.set_materialize_grads(False)
        return tuple(t.clone() for t in tensors[ref.n_in:])

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        ref = ctx.ref
        found = ref.link.backward(ref, list(grads))
        return (None, *found, *([None] * len(grads)))


class Link:
    """The verifier's end of the channel to the sandbox."""

    def __init__(self, channel, *, devices=("cpu", "meta")):
        self.channel = channel
        self.devices = set(devices)
        self.callbacks: dict[int, object] = {}
        self._next_callback = 1
        self._releases: list[int] = []
        self.violations: list[str] = []
        self.pending_failure: BaseException | None = None
        self._mutated: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.calls = 0

    # -- plumbing

    def _device_ok(self, device: str) -> bool:
        return device in self.devices or device.split(":")[0] in self.devices

    def _reference(self, obj):
        if isinstance(obj, RemoteModule):
            raise TypeError("a learner's module cannot be passed back into learner code yet")
        if isinstance(obj, _Remote):
            return {"H": obj.hid}
        if callable(obj) and not isinstance(obj, type):
            cid = self._next_callback
            self._next_callback += 1
            self.callbacks[cid] = obj
            return {"C": cid}
        return None

    def _proxy(self, dec_holder):
        def make(v):
            info = _check_info(v)
            kind = info["kind"]
            if kind == "function":
                return RemoteFunction(self, info)
            if kind == "class":
                return RemoteClass(self, info)
            if kind == "module":
                return RemoteModule(self, info, dec_holder[0])
            return RemoteObject(self, info)

        return make

    def _callback_target(self, v):
        cid = v.get("C")
        if type(cid) is not int or cid not in self.callbacks:
            raise BadMessage("a callback that was never given")
        return self.callbacks[cid]

    def decoder(self, header, blobs) -> Decoder:
        holder = [None]
        dec = Decoder(header, blobs, handle=self._proxy(holder), callback=self._callback_target,
                      device_ok=self._device_ok)
        holder[0] = dec
        # tensors come back exactly as the learner's code made them: requires_grad, leaf or not, Parameter
        for k, (entry, t) in enumerate(zip(dec.entries, dec.tensors)):
            rg = entry.get("rg", False) and (t.is_floating_point() or t.is_complex())
            if entry.get("param"):
                dec.tensors[k] = nn.Parameter(t, requires_grad=rg)
            elif rg:
                dec.tensors[k] = t.requires_grad_(True) if entry.get("leaf", True) else t.requires_grad_(True) * 1
        return dec

    def request(self, header: dict, enc: Encoder | None = None) -> tuple[dict, Decoder]:
        """Send a request; serve the sandbox's callbacks until its reply arrives."""
        if self._releases:
            header["release"] = {"graphs": self._releases[:]}
            self._releases.clear()
        if enc is None:
            enc = Encoder()
        self.calls += 1
        try:
            self.channel.send(*enc.message(header))
            while True:
                reply, blobs = self.channel.recv()
                op = reply.get("op")
                if op == "reply":
                    break
                if op != "callback":
                    raise SandboxBroken(f"an unexpected message {op!r} from the sandbox")
                self._serve_callback(reply, blobs)
        except ChannelClosed:
            raise SandboxGone() from None
        except BadMessage as exc:
            raise SandboxBroken(str(exc)) from None
        if "fatal" in reply:
            raise SandboxBroken(str(reply["fatal"])[:300])
        found = reply.get("forbidden", [])
        if type(found) is not list or not all(type(f) is str and len(f) < 300 for f in found):
            raise SandboxBroken("a malformed list of forbidden calls")
        self.violations.extend(found)
        try:
            dec = self.decoder(reply, blobs)
        except BadMessage as exc:
            raise SandboxBroken(str(exc)) from None
        if self.pending_failure is not None:
            failure, self.pending_failure = self.pending_failure, None
            raise failure
        return reply, dec

    def _serve_callback(self, header, blobs) -> None:
        found = header.get("forbidden", [])
        if type(found) is list:
            self.violations.extend(str(f)[:300] for f in found)
        dec = self.decoder(header, blobs)
        try:
            fn = self._callback_target({"C": header.get("id")})
            args = dec.value(header.get("args", []))
            kwargs = dec.value(header.get("kwargs", {"D": []}))
            if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise BadMessage("malformed callback arguments")
        except BadMessage as exc:
            raise SandboxBroken(str(exc)) from None
        enc = Encoder(reference=self._reference)
        try:
            with torch.set_grad_enabled(header.get("grad") is True):
                value = fn(*args, **kwargs)
            out = {"op": "reply", "ok": enc.value(value)}
        except BaseException as exc:  # noqa: BLE001 - re-raised in the verifier once the learner's call returns
            if self.pending_failure is None:
                self.pending_failure = exc
            enc = Encoder()
            out = {"op": "reply", "error": "the grader's function stopped your code"}
        self.channel.send(*enc.message(out))

    # -- requests

    def begin_test(self, seed: int) -> None:
        self.callbacks.clear()
        self.pending_failure = None
        self._mutated.clear()
        self.request({"op": "seed", "seed": int(seed), "new_test": True})
        self.violations.clear()

    def seed(self, seed: int) -> None:
        self.request({"op": "seed", "seed": int(seed)})

    def load(self, config: dict) -> dict:
        reply, dec = self.request({"op": "load", **config})
        value = dec.value(reply.get("ok"))
        if type(value) is not dict:
            raise SandboxBroken("a malformed answer to load")
        return value

    def ping(self, *args):
        enc = Encoder(reference=self._reference)
        reply, dec = self.request({"op": "ping", "args": enc.value(list(args))}, enc)
        return dec.value(reply.get("ok"))

    def _finish(self, reply: dict, dec: Decoder, enc: Encoder):
        if "error" in reply:
            info = reply["error"]
            if type(info) is not dict:
                raise SandboxBroken("a malformed error")
            raise RemoteError(info)
        try:
            value = dec.value(reply.get("ok"))
        except BadMessage as exc:
            raise SandboxBroken(str(exc)) from None
        inputs = enc.tensors
        self._mutated.clear()
        for pair in reply.get("mutated", []):
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not int or not 0 <= pair[0] < len(inputs):
                raise SandboxBroken("a malformed report of changed inputs")
            j = pair[1]
            after = dec.tensors[j] if type(j) is int and 0 <= j < len(dec.tensors) else None
            self._mutated.append((inputs[pair[0]], after))
        gid = reply.get("graph")
        if gid is not None:
            try:
                din = [inputs[i] for i in reply["din"]]
                dout = [dec.tensors[j] for j in reply["dout"]]
            except (KeyError, IndexError, TypeError):
                raise SandboxBroken("a malformed autograd graph") from None
            if type(gid) is not int or not all(t.requires_grad for t in din):
                raise SandboxBroken("a malformed autograd graph")
            ref = _GraphRef(self, gid, din)
            plain = [t.detach() for t in dout]
            attached = _Bridge.apply(ref, *din, *plain)
            if isinstance(attached, torch.Tensor):
                attached = (attached,)
            swap = {id(t): a for t, a in zip(dout, attached)}
            value = _substitute(value, swap)
        return value, dec

    def call(self, hid: int, args, kwargs):
        enc = Encoder(reference=self._reference)
        header = {"op": "call", "target": hid, "args": enc.value(list(args)), "kwargs": enc.value(dict(kwargs)),
                  "grad": torch.is_grad_enabled()}
        reply, dec = self.request(header, enc)
        return self._finish(reply, dec, enc)[0]

    def getattr(self, hid: int, name: str):
        reply, dec = self.request({"op": "getattr", "target": hid, "name": name})
        if "error" in reply:
            info = reply["error"]
            if type(info) is dict and "builtins.AttributeError" in (info.get("mro") or []):
                raise AttributeError(name)
        return self._finish(reply, dec, Encoder())[0]

    def take(self, obj: "RemoteObject", limit: int) -> list:
        """The items of the sandbox iterable `obj` (a generator the learner's function returned), as a list of at
        most limit + 1 items: more than `limit` means it did not stop. Errors inside the iteration are the
        learner's, raised as RemoteError like any call's."""
        reply, dec = self.request({"op": "take", "target": obj.hid, "limit": int(limit)})
        value = self._finish(reply, dec, Encoder())[0]
        if type(value) is not list:
            raise SandboxBroken("a malformed answer to take")
        return value

    def module_call(self, module: RemoteModule, args, kwargs):
        if module._d2l_broken:
            raise RemoteError({"type": ["builtins", "AttributeError"], "mro": ["builtins.AttributeError"],
                               "message": "the module was not set up: call super().__init__() first", "frames": []})
        enc = Encoder(reference=self._reference)
        state = [[name, enc.value(p)] for name, p in module.named_parameters(remove_duplicate=False)
                 if not isinstance(p, nn.parameter.UninitializedParameter)]
        buffers = list(module.named_buffers(remove_duplicate=False))
        header = {"op": "module_call", "target": module.hid, "args": enc.value(list(args)),
                  "kwargs": enc.value(dict(kwargs)), "state": state,
                  "buffers": [[name, enc.value(b)] for name, b in buffers],
                  "training": [[name, m.training] for name, m in module.named_modules(remove_duplicate=False)],
                  "grad": torch.is_grad_enabled()}
        reply, dec = self.request(header, enc)
        value, dec = self._finish(reply, dec, enc)
        # the module's own buffers (running statistics, say) take the values the forward pass gave them
        buffer_ids = {id(b) for _, b in buffers}
        with torch.no_grad():
            for before, after in self._mutated:
                if id(before) in buffer_ids and after is not None:
                    if before.shape == after.shape and before.dtype == after.dtype:
                        before.copy_(after)
        for name, ref in reply.get("materialized", []) or []:
            try:
                owner, _, leaf = str(name).rpartition(".")
                target = module.get_submodule(owner) if owner else module
                p = target._parameters[leaf]
                t = dec.tensors[ref]
            except (KeyError, AttributeError, IndexError, TypeError):
                raise SandboxBroken("a malformed lazy parameter") from None
            if isinstance(p, nn.parameter.UninitializedParameter):
                with torch.no_grad():
                    p.materialize(t.shape, device=t.device, dtype=t.dtype)
                    p.copy_(t)
        return value

    def backward(self, ref: _GraphRef, grads: list) -> list:
        enc = Encoder()
        header = {"op": "backward", "graph": ref.gid,
                  "grads": [None if g is None else {"X": enc.tensor(g.detach())} for g in grads]}
        reply, dec = self.request(header, enc)
        if "error" in reply:
            raise RemoteError(reply["error"] if type(reply["error"]) is dict else {"message": "backward failed"})
        found = dec.value(reply.get("ok"))
        if type(found) is not list or len(found) != ref.n_in:
            raise SandboxBroken("the wrong number of gradients")
        out = []
        for g, (shape, dtype, device) in zip(found, ref.shapes):
            if g is None:
                out.append(None)
                continue
            if not isinstance(g, torch.Tensor) or g.shape != shape or g.dtype != dtype or g.device != device:
                raise SandboxBroken("a gradient of the wrong shape, dtype or device")
            out.append(g.detach())
        return out

    def mutated(self, tensor: torch.Tensor) -> torch.Tensor | None:
        for before, after in self._mutated:
            if before is tensor:
                return after if after is not None else tensor
        return None

    def import_module(self, name: str) -> RemoteObject:
        reply, dec = self.request({"op": "import", "name": name})
        return self._finish(reply, dec, Encoder())[0]

    def close(self) -> None:
        try:
            self.channel.send({"op": "exit"}, [])
        except (ChannelClosed, OSError):
            pass
        self.channel.close()


def _substitute(value, swap: dict):
    cls = type(value)
    if cls is torch.Tensor or cls is nn.Parameter:
        return swap.get(id(value), value)
    if cls is list:
        return [_substitute(v, swap) for v in value]
    if cls is tuple:
        return tuple(_substitute(v, swap) for v in value)
    if cls is dict:
        return {k: _substitute(v, swap) for k, v in value.items()}
    return value


def is_opaque(value) -> bool:
    return isinstance(value, Opaque)


__all__ = ["Link", "RemoteError", "RemoteFunction", "RemoteClass", "RemoteModule", "RemoteObject", "SandboxGone",
           "SandboxBroken", "flatten_tensors", "Opaque"]
