"""Runtime guards inside the grading child.

* Forbidden APIs: each API the manifest forbids for an exercise is wrapped so
  that a call made from the learner's file (directly or through helpers it
  calls) is recorded and refused. Calls from the grader or the reference
  solution go through untouched.
* Tampering: the namespaces a verdict depends on (torch, torch.testing, the
  Tensor class, builtins, the grading toolkit, the grader and the reference) are
  snapshotted before the learner's file is imported. After learner code runs
  the guard compares them by identity, restores anything that was replaced and
  reports it, so reassigning `torch.allclose` can never turn a failure into a pass.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from types import ModuleType

import torch

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep


class ForbiddenCall(Exception):
    """Raised inside the learner's code when it calls an API the exercise forbids."""

    def __init__(self, api: str):
        super().__init__(f"{api} is not allowed in this exercise")
        self.api = api


def resolve(dotted: str):
    """Return (owner, attribute name, value) for a dotted path such as torch.nn.functional.conv2d."""
    parts = dotted.split(".")
    owner = None
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise LookupError(dotted)


class Guard:
    def __init__(self, learner_file: str, forbidden: list[str] | tuple[str, ...] = ()):
        self.learner_file = learner_file
        self.forbidden = list(forbidden)
        self.violations: list[str] = []
        self._snapshot: list[tuple[object, dict]] = []

    # -- forbidden APIs -------------------------------------------------
    def called_from_learner(self) -> bool:
        frame = sys._getframe(2)
        target = self.learner_file
        while frame is not None:
            if frame.f_code.co_filename == target:
                return True
            frame = frame.f_back
        return False

    def _wrap(self, api: str, func):
        guard = self

        @functools.wraps(func)
        def guarded(*args, **kwargs):
            if guard.called_from_learner():
                guard.violations.append(api)
                raise ForbiddenCall(api)
            return func(*args, **kwargs)

        guarded.__d2l_guarded__ = True
        return guarded

    def install(self) -> list[str]:
        """Wrap every forbidden API; returns the ones that do not exist in this torch."""
        missing = []
        for api in self.forbidden:
            try:
                owner, name, value = resolve(api)
            except (LookupError, AttributeError):
                missing.append(api)
                continue
            if isinstance(value, type):
                value.__init__ = self._wrap(api, value.__init__)
            else:
                setattr(owner, name, self._wrap(api, value))
        return missing

    def take_violations(self) -> list[str]:
        found, self.violations = sorted(set(self.violations)), []
        return found

    # -- tampering --------------------------------------------------------
    def snapshot(self, targets: list[object]) -> None:
        self._snapshot = []
        for target in targets:
            if target is None:
                continue
            self._snapshot.append((target, dict(vars(target))))

    def tampered(self) -> list[str]:
        """Names that learner code replaced or deleted since the snapshot; they are put back."""
        changed = []
        for target, saved in self._snapshot:
            current = vars(target)
            label = target.__name__ if isinstance(target, (ModuleType, type)) else repr(target)
            for key, value in saved.items():
                now = current.get(key, _MISSING)
                if now is not value and not _torch_wrapper_of(now, value):
                    changed.append(f"{label}.{key}")
                    try:
                        setattr(target, key, value)
                    except (AttributeError, TypeError):  # pragma: no cover - read-only slot
                        pass
        return changed


_MISSING = object()
def _torch_wrapper_of(new, old) -> bool:
    """True when torch itself wrapped `old` lazily (torch._dynamo, imported on first use of some operations,
    replaces torch.manual_seed with a wrapper). The wrapper must come from torch's own files and wrap the
    original, so a learner's functools.wraps(lambda ...) still counts as tampering."""
    code = getattr(new, "__code__", None)
    if code is None or not code.co_filename.startswith(_TORCH_DIR):
        return False
    inner = new
    for _ in range(5):
        inner = getattr(inner, "__wrapped__", None)
        if inner is old:
            return True
        if inner is None:
            return False
    return False
