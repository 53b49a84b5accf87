"""Given helpers: what a later exercise builds on, so that a learner never pastes an earlier answer.

An exercise lists in its exercise.toml `given = [...]` names that an earlier exercise asks for (for instance
`sequence_mask` for multi-head attention); its stub imports them::

    from tutor.given import sequence_mask

What they are is that earlier exercise's reference solution. In the learner's own Python (a notebook, a quick
run of their file) this module loads them from the course. When the file is graded, the sandbox cannot read the
course: the verifier sends it the references of exactly these names, and the sandbox puts its own `tutor.given`
in this module's place (tutor.engine.sandbox.install_given), which gives the exercise its given names and no
other (never the exercise's own answer).

Here, too, a file named after an exercise (`multihead_attention.py`) gets that exercise's given names only; any
other caller gets the names some exercise is given.

A student build of the course (tutor.export) has no reference solutions. There a given name is the learner's own:
`sequence_mask` comes from sequence_mask.py beside the importing file, as the book builds on earlier sections;
while that file does not exist, the name is a stand-in that says so when it is called.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_loaded: dict[tuple[str, str], object] = {}


def _caller_file() -> str:
    """The file of the code that imports from this module (past importlib's frames)."""
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen") or
                                 frame.f_code.co_filename == __file__):
        frame = frame.f_back
    return frame.f_code.co_filename if frame is not None else ""


def _exercise_of(path: str, course):
    stem = os.path.splitext(os.path.basename(path))[0]
    ids = {ex.id: ex for ex in course.exercises}
    if stem in ids:
        return ids[stem]
    folder = os.path.basename(os.path.dirname(path))
    if stem in ("solution", "stub") and folder in ids:
        return ids[folder]
    return None


def missing_text(exercise) -> str:
    """What a given name of `exercise` says in a student build while the learner's own file for it is missing."""
    return (f"this course is a student build without reference solutions, so tutor.given gives your own "
            f"{', '.join(exercise.requires)} from {exercise.filename} beside this file, and there is none: "
            f"do exercise {exercise.id} first (or write what you need in this file)")


def missing_source(exercise, names) -> str:
    """A module whose `names` are stand-ins raising RuntimeError(missing_text(exercise)) when called."""
    message = missing_text(exercise)
    return "".join(f"def {name}(*args, **kwargs):\n    raise RuntimeError({message!r})\n\n\n" for name in names)


def _reference(exercise, caller: str = ""):
    """The reference solution of `exercise`, loaded once; in a student build, the learner's own file for it beside
    `caller` (or stand-ins while there is none)."""
    path = exercise.solution_path
    if not path.is_file():
        path = os.path.join(os.path.dirname(os.path.abspath(caller)), exercise.filename) if caller else ""
    key = (exercise.id, str(path))
    if key not in _loaded:
        name = f"d2l_given_{exercise.id}"
        module = None
        if path and os.path.isfile(path):
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            import types

            module = types.ModuleType(name)
            exec(compile(missing_source(exercise, exercise.requires), f"<given: {exercise.id}>", "exec"),
                 module.__dict__)
        _loaded[key] = module
    return _loaded[key]


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    from tutor.manifest import load_course

    course = load_course()
    caller = _caller_file()
    exercise = _exercise_of(caller, course)
    allowed = set(exercise.given) if exercise is not None else {n for ex in course.exercises for n in ex.given}
    if name not in allowed:
        raise ImportError(not_given_message(name, sorted(allowed), exercise.id if exercise else None))
    provider = course.provider(name)
    return getattr(_reference(provider, caller), name)


def not_given_message(name: str, allowed: list[str], exercise: str | None) -> str:
    """Why `from tutor.given import name` failed, and what to do (shared with the sandbox's tutor.given)."""
    where = f"exercise {exercise}" if exercise else "any exercise"
    have = ", ".join(allowed) if allowed else "nothing"
    return (f"tutor.given does not give {name!r} to {where} (it gives: {have}); write {name} yourself in this "
            "file")


def __dir__():
    from tutor.manifest import load_course

    return sorted({n for ex in load_course().exercises for n in ex.given})
