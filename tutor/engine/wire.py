"""The channel between the verifier and the sandbox: a JSON header plus raw tensor bytes, over a Unix stream socket.

Nothing here ever unpickles or evaluates what the other side sent: a message is a length-prefixed JSON object
followed by the bytes of the tensors it mentions, and a tensor is rebuilt from a whitelisted dtype, a shape and
exactly `numel * itemsize` bytes. The verifier decodes what the sandbox sends with the same strict code, so a
hostile learner file can make the sandbox send garbage but never make the verifier run anything.

Values on the wire (`encode` / `decode`):
  None, bool, int, float, str        as JSON (NaN and infinities included)
  list                               a JSON array
  tuple, dict                        {"T": [...]}, {"D": [[key, value], ...]}
  torch.Tensor / nn.Parameter        {"X": i}: entry i of the message's tensor table
  torch.device, torch.dtype          {"dev": "cuda:0"}, {"dt": "float32"}
  an object of the other side        {"H": id, ...} (a handle: the object stays where it lives)
  a callable of the verifier         {"C": id} (the sandbox calls it back through the channel)
  anything else                      {"O": [module, qualname, short repr, is a tensor]}: a description only
"""

from __future__ import annotations

import ctypes
import json
import re
import socket
import struct

import torch

HEADER = struct.Struct("<II")    # JSON length, total length of the tensor bytes that follow
MAX_JSON = 16 * 1024 * 1024
MAX_BLOBS = 1024 * 1024 * 1024  # one message carries at most 1 GiB of tensor data
MAX_DEPTH = 48
MAX_NODES = 2_000_000
MAX_DIMS = 16
MAX_STR = 1_000_000

DTYPES = {
    name: getattr(torch, name)
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
                 "complex64", "complex128")
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
_DEVICE = re.compile(r"^(cpu|meta|cuda(:\d{1,3})?)$")


class ChannelClosed(Exception):
    """The other side closed the channel (or died)."""


class BadMessage(Exception):
    """A message that breaks the format: the sender is broken or hostile."""


class Channel:
    """Length-prefixed messages over a connected stream socket. `send` and `recv` are blocking."""

    def __init__(self, sock: socket.socket, *, max_blobs: int = MAX_BLOBS):
        self.sock = sock
        self.max_blobs = max_blobs

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, header: dict, blobs: list = ()) -> None:
        sizes = [len(b) for b in blobs]
        header["b"] = sizes
        data = json.dumps(header, separators=(",", ":")).encode()
        total = sum(sizes)
        head = HEADER.pack(len(data), total)
        try:
            if total < 65536:
                self.sock.sendall(b"".join([head, data, *blobs]))
            else:
                self.sock.sendall(head + data)
                for blob in blobs:
                    if len(blob):
                        self.sock.sendall(blob)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise ChannelClosed(str(exc)) from None

    def _read_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self.sock.recv_into(view[got:], n - got)
            except (ConnectionResetError, OSError) as exc:
                raise ChannelClosed(str(exc)) from None
            if k == 0:
                raise ChannelClosed("the other side closed the channel")
            got += k
        return buf

    def recv(self) -> tuple[dict, list[memoryview]]:
        json_len, total = HEADER.unpack(self._read_exact(HEADER.size))
        if json_len > MAX_JSON or total > self.max_blobs:
            raise BadMessage(f"a message of {json_len} + {total} bytes is over the limit")
        try:
            header = json.loads(self._read_exact(json_len))
        except (ValueError, UnicodeDecodeError):
            raise BadMessage("a message header that is not JSON") from None
        if not isinstance(header, dict):
            raise BadMessage("a message header that is not an object")
        sizes = header.get("b", [])
        if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes) or sum(sizes) != total:
            raise BadMessage("a message whose tensor sizes do not add up")
        data = memoryview(self._read_exact(total)) if total else memoryview(b"")
        blobs, at = [], 0
        for size in sizes:
            blobs.append(data[at:at + size])
            at += size
        return header, blobs


# -- tensors ----------------------------------------------------------------------------------------------------


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The raw bytes of a dense tensor (copied to the CPU and made contiguous first)."""
    c = t.detach()
    if c.device.type != "cpu":
        c = c.to("cpu")
    c = c.contiguous()
    n = c.numel() * c.element_size()
    return ctypes.string_at(c.data_ptr(), n) if n else b""


def tensor_entry(t: torch.Tensor) -> tuple[dict, bytes]:
    meta = t.device.type == "meta"
    entry = {"dtype": DTYPE_NAMES.get(t.dtype, ""), "shape": list(t.shape), "device": str(t.device),
             "rg": bool(t.requires_grad), "leaf": bool(t.is_leaf), "param": type(t) is torch.nn.Parameter}
    if not entry["dtype"]:
        raise BadMessage(f"tensors of dtype {t.dtype} cannot be sent")
    return entry, (b"" if meta else tensor_bytes(t))


def build_tensor(entry, blob, *, device_ok=None) -> torch.Tensor:
    """Rebuild a tensor from a table entry and its bytes, validating every field. Never keeps `blob` alive."""
    if not isinstance(entry, dict):
        raise BadMessage("a tensor entry that is not an object")
    dtype = DTYPES.get(entry.get("dtype"))
    shape = entry.get("shape")
    device = entry.get("device")
    if dtype is None:
        raise BadMessage(f"unknown tensor dtype {entry.get('dtype')!r}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(type(s) is int and 0 <= s < 2 ** 40 for s in shape):
        raise BadMessage("a tensor shape that is not a short list of sizes")
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise BadMessage(f"a tensor on an unknown device {device!r}")
    for flag in ("rg", "leaf", "param"):
        if not isinstance(entry.get(flag, False), bool):
            raise BadMessage(f"a tensor flag {flag!r} that is not a boolean")
    numel = 1
    for s in shape:
        numel *= s
    if device == "meta":
        if len(blob):
            raise BadMessage("a meta tensor with data")
        return torch.empty(shape, dtype=dtype, device="meta")
    itemsize = torch.empty((), dtype=dtype).element_size()
    if len(blob) != numel * itemsize:
        raise BadMessage("a tensor whose byte count does not match its shape")
    if numel == 0:
        t = torch.empty(shape, dtype=dtype)
    else:
        t = torch.frombuffer(bytearray(blob), dtype=torch.uint8).view(dtype).reshape(shape)
    if device != "cpu":
        if device_ok is not None and not device_ok(device):
            raise BadMessage(f"a tensor on {device}, which this run does not use")
        t = t.to(device)
    return t


# -- values ---------------------------------------------------------------------------------------------------------


def short_repr(obj, limit: int = 200) -> str:
    try:
        text = repr(obj)
    except BaseException:  # noqa: BLE001 - a learner's __repr__ may raise anything
        text = f"<{type(obj).__name__}>"
    if not isinstance(text, str):
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def type_name(obj) -> list[str]:
    cls = type(obj)
    return [str(getattr(cls, "__module__", "") or ""), str(getattr(cls, "__qualname__", cls.__name__))]


class Encoder:
    """Turns a value into JSON plus a tensor table. `reference(obj)` returns the JSON for an object that is not a
    plain value (a handle or a callback), or None to describe it instead."""

    def __init__(self, reference=None):
        self.reference = reference
        self.entries: list[dict] = []
        self.blobs: list[bytes] = []
        self.tensors: list[torch.Tensor] = []  # in table order
        self._index: dict[int, int] = {}
        self._nodes = 0

    def tensor(self, t: torch.Tensor) -> int:
        i = self._index.get(id(t))
        if i is None:
            entry, blob = tensor_entry(t)
            i = len(self.entries)
            self._index[id(t)] = i
            self.entries.append(entry)
            self.blobs.append(blob)
            self.tensors.append(t)
        return i

    def value(self, v, depth: int = 0):
        self._nodes += 1
        if depth > MAX_DEPTH or self._nodes > MAX_NODES:
            raise BadMessage("a value nested too deeply or too large to send")
        cls = type(v)
        if v is None or cls is bool or cls is str or cls is int or cls is float:
            return v
        if cls is torch.Tensor or cls is torch.nn.Parameter:
            if v.layout == torch.strided and v.dtype in DTYPE_NAMES:
                return {"X": self.tensor(v)}
            return {"O": type_name(v) + [f"a {v.layout} tensor of dtype {v.dtype}", True]}
        if cls is list:
            return [self.value(x, depth + 1) for x in v]
        if cls is tuple:
            return {"T": [self.value(x, depth + 1) for x in v]}
        if cls is dict:
            return {"D": [[self.value(k, depth + 1), self.value(x, depth + 1)] for k, x in v.items()]}
        if cls is torch.device:
            return {"dev": str(v)}
        if cls is torch.dtype:
            return {"dt": DTYPE_NAMES.get(v, str(v))}
        if self.reference is not None:
            ref = self.reference(v)
            if ref is not None:
                return ref
        # Subclasses of the plain types (a numpy float64 is a float, an IntEnum an int) travel as the plain value.
        if isinstance(v, bool):
            return bool(v)
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v)
        if isinstance(v, str):
            return str(v)
        return {"O": type_name(v) + [short_repr(v), isinstance(v, torch.Tensor)]}

    def message(self, header: dict) -> tuple[dict, list[bytes]]:
        header["t"] = self.entries
        return header, self.blobs


class Opaque:
    """What the other side returned when it is not a value that can travel: its type and a short repr."""

    def __init__(self, module: str, qualname: str, text: str, is_tensor: bool = False):
        self.module, self.qualname, self.text, self.is_tensor = module, qualname, text, is_tensor

    def __repr__(self) -> str:
        return self.text


class Decoder:
    """Rebuilds values from JSON and a message's tensor table, validating everything.

    `handle(json)` and `callback(json)` turn {"H": ...} and {"C": ...} into objects; either may be None, which
    rejects such values. `make_tensor(entry, tensor)` post-processes each rebuilt tensor (requires_grad and
    leaf-ness are applied by the caller, who knows what it needs)."""

    def __init__(self, header: dict, blobs: list, *, handle=None, callback=None, device_ok=None):
        entries = header.get("t", [])
        if not isinstance(entries, list) or len(entries) != len(blobs):
            raise BadMessage("a tensor table that does not match the data")
        self.entries = entries
        self.tensors = [build_tensor(e, b, device_ok=device_ok) for e, b in zip(entries, blobs)]
        self.handle = handle
        self.callback = callback
        self._nodes = 0

    def value(self, v, depth: int = 0):
        self._nodes += 1
        if depth > MAX_DEPTH or self._nodes > MAX_NODES:
            raise BadMessage("a value nested too deeply or too large")
        if v is None or type(v) in (bool, int, float):
            return v
        if type(v) is str:
            if len(v) > MAX_STR:
                raise BadMessage("a string that is too long")
            return v
        if type(v) is list:
            return [self.value(x, depth + 1) for x in v]
        if type(v) is not dict or len(v) < 1:
            raise BadMessage("a value of an unknown form")
        if "X" in v:
            i = v["X"]
            if type(i) is not int or not 0 <= i < len(self.tensors):
                raise BadMessage("a reference to a tensor that was not sent")
            return self.tensors[i]
        if "T" in v and type(v["T"]) is list:
            return tuple(self.value(x, depth + 1) for x in v["T"])
        if "D" in v and type(v["D"]) is list:
            out = {}
            for pair in v["D"]:
                if type(pair) is not list or len(pair) != 2:
                    raise BadMessage("a dict entry that is not a pair")
                key = self.value(pair[0], depth + 1)
                try:
                    out[key] = self.value(pair[1], depth + 1)
                except TypeError:
                    raise BadMessage("a dict key that cannot be a key") from None
            return out
        if "dev" in v:
            if type(v["dev"]) is not str or not _DEVICE.match(v["dev"]):
                raise BadMessage("an unknown device")
            return torch.device(v["dev"])
        if "dt" in v:
            dtype = DTYPES.get(v["dt"])
            if dtype is None:
                raise BadMessage("an unknown dtype")
            return dtype
        if "O" in v:
            o = v["O"]
            if type(o) is not list or len(o) != 4 or not all(type(s) is str and len(s) < 4096 for s in o[:3]) \
                    or type(o[3]) is not bool:
                raise BadMessage("a malformed description")
            return Opaque(*o)
        if "H" in v and self.handle is not None:
            return self.handle(v)
        if "C" in v and self.callback is not None:
            return self.callback(v)
        raise BadMessage("a value of an unknown form")


def flatten_tensors(value, out: list | None = None) -> list[torch.Tensor]:
    """Every plain tensor in a nested value (lists, tuples, dict values), in order, each once."""
    out = [] if out is None else out
    cls = type(value)
    if cls is torch.Tensor or cls is torch.nn.Parameter:
        if not any(t is value for t in out):
            out.append(value)
    elif cls in (list, tuple):
        for x in value:
            flatten_tensors(x, out)
    elif cls is dict:
        for x in value.values():
            flatten_tensors(x, out)
    return out
