"""Comparisons that produce messages a learner can act on.

The functions the checks rely on are bound here, when the grading child starts
and before any learner code is imported, so a learner's file that reassigns
`torch.allclose` or `torch.testing.assert_close` cannot change a verdict (and
the tamper guard in tutor.engine.guard reports that it tried).
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
    """Raised by a check: the message is shown to the learner as it is."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: str, *, shrinkable: bool = False):
        super().__init__(message)
        self.message = message
        self.shrinkable = shrinkable


def describe(value) -> str:
    """A short description of an argument or a result, e.g. float32[3, 4] on cuda:0."""
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


def _type_hint(got) -> str:
    if got is None:
        return " Did you forget a `return` statement?"
    name = _type(got).__module__ + "." + _type(got).__qualname__
    if name.startswith("numpy."):
        return " Keep the computation in torch: converting to NumPy leaves the GPU and breaks gradients."
    if _isinstance(got, (list, tuple)):
        return " Build the result as a tensor (for example torch.stack or torch.zeros plus indexing) instead of a Python list."
    if _isinstance(got, (int, float)):
        return " Return a tensor, not a Python number (.item() turns a tensor into a number and breaks gradients)."
    if _isinstance(got, _Tensor):
        return " Return a plain torch.Tensor: tensor subclasses can change how comparisons behave."
    return ""


def check_type(got, what: str):
    if _type(got) is not _Tensor and _type(got) is not _Parameter:
        raise TestFailure(f"{what} returned {describe(got)} ({_type(got).__module__}.{_type(got).__qualname__}); "
                          f"expected a torch.Tensor.{_type_hint(got)}")


def check_tensor(got, expected, what: str, *, atol: float | None = None, rtol: float | None = None,
                 check_dtype: bool = True) -> None:
    """Check type, shape, dtype, device and then values; raise TestFailure with a learner message."""
    check_type(got, what)
    header = f"{what}\n  expected: {describe(expected)}\n  got:      {describe(got)}"
    if tuple(got.shape) != tuple(expected.shape):
        raise TestFailure(f"{header}\n  the shapes differ: expected {tuple(expected.shape)}, got {tuple(got.shape)}.")
    if check_dtype and got.dtype != expected.dtype:
        raise TestFailure(f"{header}\n  the dtypes differ: expected {expected.dtype}, got {got.dtype}. "
                          "Create new tensors with dtype=X.dtype (or use torch.zeros_like) so the input's dtype is kept.")
    if got.device != expected.device:
        raise TestFailure(f"{header}\n  the result is on {got.device} but the inputs were on {expected.device}. "
                          "Create new tensors with device=X.device and avoid .cpu()/.numpy() inside your function.")
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
        nan_note = " (your result has NaN or inf where the expected one is finite)" if bool((~_isfinite(gf) & _isfinite(ef)).any()) else ""
        raise TestFailure(
            f"{header}\n  the values differ{nan_note}: max abs difference {max_diff:.4g} "
            f"(tolerance atol={atol:g}, rtol={rtol:g}); {n_bad} of {e.numel()} elements are off.\n"
            f"  expected:\n{_indent(fmt_tensor(e))}\n  got:\n{_indent(fmt_tensor(g))}",
            shrinkable=True,
        )
