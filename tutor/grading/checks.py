"""Comparisons that produce verdicts a learner can act on (in the verifier, which never runs learner code).

A failed check raises TestFailure: a reason code with its parameters (shape_mismatch, value_mismatch, ...),
rendered into text by tutor.messages in the parent. The learner's results reach these checks as copies made by
the sandbox (tutor.grading.remote), so nothing a learner's file does can change how they compare.
"""

from __future__ import annotations

import builtins
import math

import torch
from torch.testing import assert_close as _assert_close

try:
    # check_type() accepts only a plain torch.Tensor before anything reaches assert_close, so its DTensor
    # unwrapping never applies; turning it off skips a lazy import of torch.distributed and sympy that
    # costs ~0.8 s in every grading run.
    import torch.testing._comparison as _comparison

    if getattr(_comparison, "_HAS_DTENSOR", False):
        _comparison._HAS_DTENSOR = False
except ImportError:  # pragma: no cover - a torch without this private module
    _comparison = None

_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_type = builtins.type
_isinstance = builtins.isinstance
_no_grad = torch.no_grad
_abs = torch.abs
_isfinite = torch.isfinite

# Default tolerances by dtype (torch.testing's own defaults are used when None).
TOLERANCES = {
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1.6e-2, 1e-2),
    torch.float32: (1e-5, 1.3e-6),
    torch.float64: (1e-7, 1e-7),
}


class TestFailure(Exception):
    """Raised by a check: a verdict as data, shown to the learner through tutor.messages.

    `TestFailure("English template with {what}", what=...)`: a grader's own message (gettext-style: the English
    template is the key a translation maps from; its parameters are data). `code=` names a catalog entry
    instead (e.g. "shape_mismatch"); `mistake=` marks a known mistake by id. `parts` are further failures shown
    after this one (a hint, the smallest failing input).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, msg: str | None = None, *, code: str | None = None, parts=(), shrinkable: bool = False,
                 **params):
        if msg is not None and not isinstance(msg, str):
            raise TypeError("TestFailure's first argument is the message template (a str)")
        self.code = code or ("known_mistake" if "mistake" in params else "grader")
        self.template = msg
        self.params = {k: _plain(v) for k, v in params.items()}
        self.parts = list(parts)
        self.shrinkable = shrinkable
        super().__init__(self.message)

    @property
    def message(self) -> str:
        from tutor.messages import render

        return render(self.data())

    def data(self) -> dict:
        out = {"code": self.code, "params": self.params}
        if self.template is not None:
            out["msg"] = self.template
        if self.parts:
            out["parts"] = [p.data() if isinstance(p, TestFailure) else p for p in self.parts]
        return out

    def with_part(self, part: "TestFailure | dict") -> "TestFailure":
        """This failure with one more part shown after it (a hint, the smallest failing input)."""
        self.parts.append(part)
        self.args = (self.message,)
        return self


def N_(template: str) -> str:
    """Marks a message template kept in a table (and raised later) for the catalog extractor; returns it as is."""
    return template


def probe_detail(probe: TestFailure) -> TestFailure:
    """What ctx.device_probe saw (the failure it raised), in one indented line without its general advice: for a
    grader that names the mistake itself (the book's code, say) and shows the probe's finding under its message."""
    if probe.code == "device_probe_mixed":
        return TestFailure(code="device_probe_meta_mixed", call=probe.params.get("call"),
                           error=probe.params.get("error"))
    return TestFailure(code="device_probe_meta_wrong", call=probe.params.get("call"),
                       device=probe.params.get("device"))


def fail(msg: str | None = None, **params) -> TestFailure:
    return TestFailure(msg, **params)


def _plain(value):
    """A parameter as plain data: strings, numbers, booleans, None, or lists of those."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) if v is None or type(v) in (bool, int, float, str) else describe(v) for v in value]
    if isinstance(value, _Tensor):
        return fmt_tensor(value)
    if isinstance(value, (int, float)):
        return value.item() if hasattr(value, "item") else float(value)
    return str(value)


def describe(value) -> str:
    """A short description of an argument or a result, e.g. float32[3, 4] on cuda:0."""
    from tutor.engine.wire import Opaque

    if _isinstance(value, _Tensor):
        shape = ", ".join(str(s) for s in value.shape)
        where = "" if value.device.type == "cpu" else f" on {value.device}"
        return f"{str(value.dtype).replace('torch.', '')}[{shape}]{where}"
    if value is None:
        return "None"
    if _isinstance(value, (bool, int, float, str)):
        return repr(value)
    if _isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v) for v in list(value)[:4])
        more = ", ..." if len(value) > 4 else ""
        return f"{_type(value).__name__}({inner}{more})" if _isinstance(value, tuple) else f"[{inner}{more}]"
    if _isinstance(value, Opaque):
        return value.qualname
    qualname = getattr(value, "type_qualname", None)  # a proxy of an object that lives in the sandbox
    if isinstance(qualname, str):
        return qualname
    return _type(value).__qualname__


def _fmt_number(x: float, integral: bool) -> str:
    if integral:
        return str(int(x))
    if math.isnan(x) or math.isinf(x):
        return str(x)
    text = f"{x:.4g}"
    return text


def fmt_tensor(t, max_elements: int = 64) -> str:
    """Print a small tensor compactly on a few lines; summarise a big one."""
    if not _isinstance(t, _Tensor):
        return repr(t)[:300]
    t = t.detach().to("cpu")
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.numel() > max_elements:
        flat = t.reshape(-1)[:8].tolist()
        head = ", ".join(_fmt_number(float(v), False) for v in flat)
        return f"{describe(t)} starting [{head}, ...]"
    integral = not t.is_floating_point() or bool((t == t.round()).all()) if t.numel() else True
    values = t.tolist()

    def render(v, depth):
        if not _isinstance(v, list):
            return _fmt_number(float(v), integral)
        if v and _isinstance(v[0], list):
            inner = (",\n" + " " * (depth + 1)).join(render(x, depth + 1) for x in v)
            return "[" + inner + "]"
        return "[" + ", ".join(render(x, depth + 1) for x in v) + "]"

    return render(values, 0)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _type_of(got) -> tuple[str, str]:
    """(module, qualname) of a result, seen through a description or a proxy of the sandbox."""
    from tutor.engine.wire import Opaque

    if _isinstance(got, Opaque):
        return got.module, got.qualname
    info = getattr(got, "_info", None) or getattr(got, "_d2l_info", None)
    if isinstance(info, dict) and isinstance(info.get("type"), list):
        return info["type"][0], info["type"][1]
    return _type(got).__module__, _type(got).__qualname__


def _type_hint(got) -> str | None:
    from tutor.engine.wire import Opaque

    module, _ = _type_of(got)
    if got is None:
        return "type_hint_none"
    if module.startswith("numpy"):
        return "type_hint_numpy"
    if _isinstance(got, (list, tuple)):
        return "type_hint_list"
    if _isinstance(got, (int, float)):
        return "type_hint_number"
    if _isinstance(got, _Tensor) or (_isinstance(got, Opaque) and got.is_tensor):
        return "type_hint_subclass"
    return None


def check_type(got, what: str):
    if _type(got) is not _Tensor and _type(got) is not _Parameter:
        module, qualname = _type_of(got)
        hint = _type_hint(got)
        raise TestFailure(code="wrong_type", call=what, got=describe(got), got_type=f"{module}.{qualname}",
                          parts=[TestFailure(code=hint)] if hint else [])


def check_tensor(got, expected, what: str, *, atol: float | None = None, rtol: float | None = None,
                 check_dtype: bool = True) -> None:
    """Check type, shape, dtype, device and then values; raise TestFailure with a learner message."""
    check_type(got, what)
    head = dict(call=what, expected=describe(expected), got=describe(got))
    if tuple(got.shape) != tuple(expected.shape):
        raise TestFailure(code="shape_mismatch", expected_shape=str(tuple(expected.shape)),
                          got_shape=str(tuple(got.shape)), **head)
    if check_dtype and got.dtype != expected.dtype:
        raise TestFailure(code="dtype_mismatch", expected_dtype=str(expected.dtype), got_dtype=str(got.dtype), **head)
    if got.device != expected.device:
        raise TestFailure(code="wrong_device", expected_device=str(expected.device), got_device=str(got.device),
                          **head)
    g = got.detach().clone()
    e = expected.detach().clone()
    if atol is None or rtol is None:
        datol, drtol = TOLERANCES.get(e.dtype, (0.0, 0.0))
        atol = datol if atol is None else atol
        rtol = drtol if rtol is None else rtol
    try:
        _assert_close(g, e, atol=atol, rtol=rtol, equal_nan=False, check_dtype=False)
    except AssertionError:
        with _no_grad():
            gf, ef = g.to(torch.float64), e.to(torch.float64)
            diff = _abs(gf - ef)
            bad = ~(diff <= atol + rtol * _abs(ef))
            bad |= ~_isfinite(gf) & _isfinite(ef)
            n_bad = int(bad.sum())
            finite = diff[_isfinite(diff)]
            max_diff = float(finite.max()) if finite.numel() else float("nan")
        nan = bool((~_isfinite(gf) & _isfinite(ef)).any())
        raise TestFailure(code="value_mismatch_nan" if nan else "value_mismatch", max_diff=f"{max_diff:.4g}",
                          atol=f"{atol:g}", rtol=f"{rtol:g}", n_bad=n_bad, numel=e.numel(),
                          expected_values=_indent(fmt_tensor(e)), got_values=_indent(fmt_tensor(g)),
                          shrinkable=True, **head)
