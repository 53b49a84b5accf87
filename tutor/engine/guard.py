"""The forbidden-API guard, inside the sandbox (best effort: it lives in the learner's own process).

Every API the manifest forbids for an exercise is replaced by a wrapper that records the call and raises
ForbiddenCall when learner code is on the stack. The sandbox runs nothing but the learner's code (the grader and
the reference live in the verifier), so any frame that is not torch's, this tutor's or the standard library's is
the learner's, whatever file name it was compiled under; calls through torch's own layers (nn.LazyConv2d's
forward calling F.conv2d) count too. The wrappers carry no `__wrapped__`, and the same operation is also guarded
under its other names: torch.X, torch.nn.functional.X, torch._C._VariableFunctions.X and torch._C._nn.X.

What it cannot stop, by design: torch.ops.aten.X (torch's own lazy imports use those objects, so they stay as
they are), code that digs the original out of a closure or the garbage collector, or code run with a fake file
name inside torch. The verifier's static scan of the source (tutor.engine.scan) is the second signal (it reports
torch.ops.aten.X and __wrapped__), and the tests check results, not how they were computed.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
_TRUSTED = tuple(sorted({
    os.path.dirname(torch.__file__) + os.sep,
    _HERE + os.sep,  # tutor/engine: the sandbox's own server
    os.path.join(os.path.dirname(_HERE), "grading") + os.sep,
    sysconfig.get_paths(vars={"base": sys.base_prefix, "installed_base": sys.base_prefix})["stdlib"] + os.sep,
}))


def _learner_on_stack() -> bool:
    """True when any frame on the stack is neither torch's, this tutor's, nor the standard library's: that is
    the learner's code (whatever file name it was compiled under), calling directly or through torch."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(_TRUSTED) or name.startswith("<frozen ")):
            return True
        frame = frame.f_back
    return False


class ForbiddenCall(Exception):
    """Raised inside the learner's code when it calls an API the exercise forbids."""

    def __init__(self, api: str):
        super().__init__(f"{api} is not allowed in this exercise")
        self.api = api


def resolve(dotted: str):
    """Return (owner, attribute name, value) for a dotted path such as torch.nn.functional.conv2d."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise LookupError(dotted)


def _aliases(name: str):
    """Where else torch exposes a function called `name`."""
    owners = [torch, torch.nn.functional]
    for dotted in ("torch._C._VariableFunctions", "torch._C._nn"):
        try:
            owners.append(resolve(dotted)[2])
        except (LookupError, AttributeError):
            pass
    return owners


class Guard:
    def __init__(self, forbidden=()):
        self.forbidden = list(forbidden)
        self.violations: list[str] = []

    def refuse(self, api: str):
        self.violations.append(api)
        raise ForbiddenCall(api)

    def _wrap(self, api: str, func):
        guard = self

        def guarded(*args, **kwargs):
            if _learner_on_stack():
                guard.refuse(api)
            return func(*args, **kwargs)

        guarded.__name__ = getattr(func, "__name__", api.rsplit(".", 1)[-1])
        guarded.__qualname__ = guarded.__name__
        guarded.__doc__ = f"{api} is forbidden in this exercise."
        guarded.__d2l_guarded__ = True
        return guarded

    def install(self) -> list[str]:
        """Wrap every forbidden API and its aliases; returns the ones that do not exist in this torch."""
        missing = []
        for api in self.forbidden:
            try:
                owner, name, value = resolve(api)
            except (LookupError, AttributeError):
                missing.append(api)
                continue
            if isinstance(value, type):
                value.__init__ = self._wrap(api, value.__init__)
                continue
            setattr(owner, name, self._wrap(api, value))
            for alias_owner in _aliases(name):
                if alias_owner is not owner and callable(getattr(alias_owner, name, None)):
                    try:
                        setattr(alias_owner, name, self._wrap(api, getattr(alias_owner, name)))
                    except (AttributeError, TypeError):
                        pass
        return missing

    def take_violations(self) -> list[str]:
        found, self.violations = sorted(set(self.violations)), []
        return found
