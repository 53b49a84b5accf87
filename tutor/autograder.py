"""Gradescope autograder bundles: `d2l-tutor autograder build EXERCISE... --out autograder.zip`.

A bundle is the zip an instructor uploads on Gradescope (Configure Autograder). Following Gradescope's
"Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs/), it holds at its root:

  setup.sh              run once as root when Gradescope builds the image (Ubuntu): installs Python, bubblewrap,
                        torch (CPU wheels unless built with --device auto) and the wheel below into VENV
  run_autograder        run for every submission: grades each exercise's file found in /autograder/submission
                        (subfolders too) in strict mode and writes /autograder/results/results.json
  d2l-autograder.json   what to grade: the exercises (id, file name, points), the language, the device
  d2l_tutor-*.whl       this version of d2l-tutor, built from the source tree (or the one given with --wheel)

run_autograder honours AUTOGRADER_ROOT (default /autograder) and D2L_TUTOR_PYTHON (default: VENV's Python, else
python3) and runs `python -m tutor.autograder run`, this module's grading side, which writes results.json whatever
happens: a missing file scores 0 and says so, an internal error writes a score of 0 with what went wrong, and when
Python itself cannot start, run_autograder writes a fallback made at build time.

Importing this module is light (no torch): the CLI registers `autograder_app`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from tutor.i18n import LANGS, _, get_lang, normalize, set_lang

CONFIG_NAME = "d2l-autograder.json"
CONFIG_FORMAT = 1
VENV = "/opt/d2l-tutor"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DEVICES = ("cpu", "auto")
DEFAULT_ROOT = "/autograder"
TEMPLATES = Path(__file__).resolve().parent / "autograder_template"
EXECUTABLE = 0o100755
REGULAR = 0o100644
WHEEL_NAME = re.compile(r"^d2l_tutor-[^-]+-.+\.whl$")
SKIPPED_FOLDERS = {"__MACOSX", "__pycache__"}

EXIT_USAGE = 2      # as tutor.cli: an unknown exercise, a bad option
EXIT_INTERNAL = 4   # the wheel could not be built or read

autograder_app = typer.Typer(
    name="autograder",
    help=_("Gradescope autograder bundles: a zip to upload that grades your students' files in strict mode."),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@autograder_app.callback()
def _group() -> None:
    """A group even with one command: `autograder build ...` on its own and under `d2l-tutor`."""


class BundleError(Exception):
    """The bundle cannot be built; the message says why and what to do (one line)."""

    def __init__(self, message: str, code: int = EXIT_INTERNAL):
        super().__init__(message)
        self.code = code


# -- building the bundle ------------------------------------------------------------------------------------------


def pick_exercises(course, names: list[str], every: bool) -> list:
    """The exercises named (ids or section numbers), in the order given, each once; BundleError names the valid ids."""
    from tutor.manifest import UnknownExercise

    valid = ", ".join(ex.id for ex in course.exercises)
    if every and names:
        raise BundleError(_("give exercise ids or --all, not both."), EXIT_USAGE)
    if not every and not names:
        raise BundleError(_("name the exercises to grade (for example `d2l-tutor autograder build corr2d`) or use "
                            "--all; the exercises: {ids}.").format(ids=valid), EXIT_USAGE)
    if every:
        return list(course.exercises)
    chosen = []
    for name in names:
        try:
            ex = course.exercise(name)
        except UnknownExercise:
            raise BundleError(_("no exercise called {name!r}; the exercises: {ids}.").format(name=name, ids=valid),
                              EXIT_USAGE) from None
        if ex not in chosen:
            chosen.append(ex)
    return chosen


def source_tree() -> Path | None:
    """The d2l-tutor source checkout this package runs from (an editable install or a checkout), or None."""
    import tutor

    root = Path(tutor.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        if (root / "course" / "course.toml").is_file() and re.search(
                r'^name\s*=\s*"d2l-tutor"', pyproject.read_text(encoding="utf-8"), re.MULTILINE):
            return root
    except OSError:
        pass
    return None


def build_wheel(root: Path, dest: Path) -> Path:
    """Build d2l-tutor's wheel from the source tree `root` into `dest` (hatchling when installed, else pip)."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("hatchling") is not None:
        cmd = [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dest)]
    else:  # pip fetches hatchling into an isolated build environment (this needs the network)
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest), str(root)]
    try:
        proc = subprocess.run(cmd, cwd=root, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BundleError(_("building the d2l-tutor wheel failed ({reason}); build one yourself (`pip wheel "
                            "--no-deps .` in the source tree) and give it with --wheel PATH.").format(reason=exc)) \
            from None
    wheels = sorted(dest.glob("d2l_tutor-*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        last = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise BundleError(_("building the d2l-tutor wheel failed ({reason}); build one yourself (`pip wheel "
                            "--no-deps .` in the source tree) and give it with --wheel PATH.").format(reason=last[0]))
    return wheels[0]


def check_wheel(path: Path, exercises: list) -> None:
    """A wheel of d2l-tutor that has the autograder and the course's files of every exercise to grade."""
    import zipfile

    if not path.is_file():
        raise BundleError(_("--wheel {path}: no such file.").format(path=path), EXIT_USAGE)
    if not WHEEL_NAME.match(path.name):
        raise BundleError(_("--wheel {path}: not a d2l-tutor wheel (its name should be d2l_tutor-VERSION-...whl)."
                            ).format(path=path), EXIT_USAGE)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(_("--wheel {path}: cannot read it ({reason}).").format(path=path, reason=exc),
                          EXIT_USAGE) from None
    from tutor.manifest import course_root

    needed = ["tutor/autograder.py", "tutor/_course/course.toml"]
    root = course_root()
    for ex in exercises:
        try:
            folder = (ex.folder).relative_to(root).as_posix()
        except ValueError:
            continue
        needed += [f"tutor/_course/{folder}/grader.py", f"tutor/_course/{folder}/solution.py"]
    missing = [n for n in needed if n not in names]
    if missing:
        raise BundleError(_("--wheel {path}: this wheel lacks {files}; give a wheel of the whole d2l-tutor (not a "
                            "student build) of this version or later.").format(path=path, files=", ".join(missing)),
                          EXIT_USAGE)


def torch_requirement(wheel: Path) -> str:
    """The wheel's own requirement on torch (Requires-Dist in its METADATA), e.g. "torch<3,>=2.2"."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            name = next(n for n in zf.namelist() if re.match(r"^[^/]+\.dist-info/METADATA$", n))
            metadata = zf.read(name).decode("utf-8", "replace")
    except (OSError, StopIteration, zipfile.BadZipFile):
        return "torch"
    for line in metadata.splitlines():
        found = re.match(r"^Requires-Dist:\s*(torch\b(?![-_.\w])[^;]*)", line)
        if found:
            return found.group(1).replace(" ", "")
    return "torch"


def make_config(exercises: list, *, lang: str, device: str, wheel: str) -> dict:
    from tutor import __version__

    return {
        "format": CONFIG_FORMAT,
        "d2l_tutor": __version__,
        "wheel": wheel,
        "lang": lang,
        "device": device,
        "exercises": [{"id": ex.id, "file": ex.filename, "points": ex.points} for ex in exercises],
    }


def fill(template: str, values: dict) -> str:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise BundleError(f"the template {template} has unfilled fields: {', '.join(sorted(set(left)))}")
    return text


def fallback_results(config: dict) -> str:
    """The results.json run_autograder writes when d2l-tutor cannot start at all (one line of ASCII JSON)."""
    message = _("The autograder could not start d2l-tutor, so nothing was graded. This is not a problem with your "
                "code: please tell your instructor (the autograder's log says what failed).")
    return json.dumps(error_document(message, config.get("exercises", []), 0.0), ensure_ascii=True)


def bundle_files(config: dict, wheel: Path) -> list[tuple[str, bytes | Path, int]]:
    """(name in the zip, its bytes or the file to copy, its mode) for every member of the bundle."""
    from tutor import __version__

    values = {"VERSION": __version__, "VENV": VENV, "WHEEL": wheel.name, "CONFIG": CONFIG_NAME,
              "TORCH_INDEX_URL": CPU_INDEX if config["device"] == "cpu" else "",
              "TORCH_REQUIREMENT": torch_requirement(wheel)}
    run = fill("run_autograder", {**values, "FALLBACK": fallback_results(config)})
    return [
        ("setup.sh", fill("setup.sh", values).encode("utf-8"), EXECUTABLE),
        ("run_autograder", run.encode("utf-8"), EXECUTABLE),
        (CONFIG_NAME, (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), REGULAR),
        (wheel.name, wheel, REGULAR),
    ]


def write_zip(out: Path, files: list[tuple[str, bytes | Path, int]]) -> None:
    """Write the zip at `out` atomically: the members at its root, with their Unix modes (run_autograder and setup.sh
    executable) and a fixed date, so that the same inputs give the same bundle."""
    import tempfile
    import zipfile

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, content, mode in files:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.create_system = 3  # Unix: the modes below are honoured when unpacked
                info.external_attr = mode << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = content.read_bytes() if isinstance(content, Path) else content
                zf.writestr(info, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def build_bundle(names: list[str], *, out: Path, every: bool = False, wheel: Path | None = None,
                 lang: str = "en", device: str = "cpu") -> dict:
    """Write the bundle for `names` at `out`; its config. Raises BundleError (with its exit code) on any problem."""
    import tempfile

    from tutor.manifest import ManifestError, load_course

    if device not in DEVICES:
        raise BundleError(_("--device must be cpu or auto, not {value!r}.").format(value=device), EXIT_USAGE)
    if out.is_dir():
        raise BundleError(_("{path} is a folder: give the zip's file name (e.g. {example}).").format(
            path=out, example=out / "autograder.zip"), EXIT_USAGE)
    try:
        course = load_course()
    except ManifestError as exc:
        raise BundleError(str(exc)) from None
    exercises = pick_exercises(course, names, every)
    with tempfile.TemporaryDirectory(prefix="d2l-autograder-") as tmp:
        if wheel is None:
            root = source_tree()
            if root is None:
                raise BundleError(_("this d2l-tutor is not installed from a source tree, so it cannot build its wheel: "
                                    "give one with --wheel PATH (`pip wheel --no-deps .` in a d2l-tutor checkout "
                                    "makes it)."), EXIT_USAGE)
            wheel = build_wheel(root, Path(tmp))
        wheel = Path(wheel)
        check_wheel(wheel, exercises)
        config = make_config(exercises, lang=lang, device=device, wheel=wheel.name)
        try:
            write_zip(out, bundle_files(config, wheel))
        except OSError as exc:
            raise BundleError(_("cannot write {path}: {reason}.").format(path=out, reason=exc.strerror or exc)) \
                from None
    return config


@autograder_app.command(help=_("Write a Gradescope autograder bundle (a zip to upload) that grades the files named "
                               "EXERCISE.py in each submission, in strict mode."))
def build(
    exercises: Annotated[Optional[List[str]], typer.Argument(
        metavar="EXERCISE...", help=_("Exercise ids (or section numbers) to grade."), show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help=_("Grade every exercise."))] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help=_("Where to write the bundle."))] = Path("autograder.zip"),
    wheel: Annotated[Optional[Path], typer.Option(
        help=_("The d2l-tutor wheel to put in the bundle (default: built from this source tree)."),
        show_default=False)] = None,
    lang: Annotated[Optional[str], typer.Option(
        "--lang", help=_("The language of the results students read: en or zh (default: yours)."),
        show_default=False)] = None,
    device: Annotated[str, typer.Option(help=_("cpu (torch's CPU build), or auto: torch's CUDA build, grading on the "
                                               "GPU when Gradescope gives one."))] = "cpu",
) -> None:
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False)
    try:
        chosen = normalize(lang) if lang is not None else get_lang()
        if chosen is None:
            raise BundleError(_("--lang must be one of {langs}, not {value!r}.").format(langs=", ".join(LANGS),
                                                                                       value=lang), EXIT_USAGE)
        set_lang(chosen)
        with err.status(_("building the autograder bundle..."), spinner="dots"):
            config = build_bundle(list(exercises or []), out=out, every=all_, wheel=wheel, lang=chosen,
                                  device=device)
    except BundleError as exc:
        err.print(f"[bold red]{escape(_('error:'))}[/] {escape(str(exc))}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.code) from None
    ids = ", ".join(e["id"] for e in config["exercises"])
    total = sum(e["points"] for e in config["exercises"])
    typer.echo(_("wrote {path}: {n} exercises ({ids}), {points} points, results in {lang}, torch for {device}. Upload "
                 "it on Gradescope (Configure Autograder).").format(
        path=out, n=len(config["exercises"]), ids=ids, points=total, lang=config["lang"],
        device=config["device"]))


# -- grading a submission (run_autograder) ------------------------------------------------------------------------


class Stopped(BaseException):
    """run_autograder was told to stop (SIGTERM: Gradescope's time limit, say). Not an Exception: the handler of one
    exercise's failure does not catch it."""


def read_config(source: Path) -> dict:
    path = source / CONFIG_NAME
    config = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
        raise ValueError(f"{path}: not a d2l-tutor autograder configuration (format {CONFIG_FORMAT})")
    exercises = config.get("exercises")
    if not isinstance(exercises, list) or not exercises or not all(
            isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("file"), str)
            and isinstance(e.get("points"), (int, float)) for e in exercises):
        raise ValueError(f"{path}: its exercise list is malformed")
    if config.get("lang") not in LANGS or config.get("device") not in DEVICES:
        raise ValueError(f"{path}: its lang or device is malformed")
    return config


def find_submission(folder: Path, filename: str) -> tuple[list[Path], list[str], list[str]]:
    """The files called `filename` in `folder` and its subfolders, the shallowest first (links are never followed
    nor graded); the near misses (another case, a copy's suffix, a link) to point the student at; every file there
    (paths relative to `folder`, hidden folders left out)."""
    found, near, listing = [], [], []
    if not folder.is_dir():
        return found, near, listing
    stem = filename.rsplit(".", 1)[0].lower()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            listing.append(rel)
            if name == filename and path.is_file() and not path.is_symlink():
                found.append(path)
            elif name == filename or (name.lower().startswith(stem) and name.lower().endswith(".py")):
                near.append(rel)
    found.sort(key=lambda p: (len(p.relative_to(folder).parts), p.as_posix()))
    return found, near, listing


def cpu_count() -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup CPU quota (a container's, as Gradescope's)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = None
    try:
        limit, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if limit != "max":
            quota = int(limit) / int(period)
    except (OSError, ValueError):
        try:
            limit = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
            period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
            if limit > 0 and period > 0:
                quota = limit / period
        except (OSError, ValueError):
            pass
    if quota is not None:
        n = min(n, max(1, int(quota + 0.999)))
    return max(1, n)


def memory_limit_mb() -> int | None:
    """The container's memory limit in MB (cgroup v2, else v1), or None when there is none."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text) // (1 << 20)
        return None
    return None


def grading_threads() -> int:
    """torch's threads in each of the verifier and the sandbox: half the CPUs the container may use, 1 to 4."""
    return max(1, min(4, cpu_count() // 2))


def error_document(message: str, exercises: list, execution_time: float) -> dict:
    """results.json when nothing could be graded: every exercise scores 0 out of its points, saying why."""
    from tutor.gradescope import document, placeholder_entry

    tests = [placeholder_entry(e["id"], _("not graded"), e.get("points", 0), message, f"{i}.1")
             for i, e in enumerate(exercises, 1) if isinstance(e, dict) and "id" in e]
    return document(tests, output=message, execution_time=execution_time)


class Session:
    """One run of run_autograder: what is graded so far, written as a whole results.json after each exercise (so
    that a run stopped half-way still leaves the scores it had, and says what it did not grade)."""

    def __init__(self, root: Path, config: dict):
        self.root = root
        self.config = config
        self.started = time.monotonic()
        self.done: dict[str, tuple[list[dict], str, dict]] = {}  # id -> (entries, summary line, extra data)

    @property
    def results_path(self) -> Path:
        return self.root / "results" / "results.json"

    def document(self, stopped: str = "") -> dict:
        from tutor.gradescope import document, placeholder_entry, summary_line

        tests, lines, extra = [], [], {}
        for i, e in enumerate(self.config["exercises"], 1):
            if e["id"] in self.done:
                entries, line, info = self.done[e["id"]]
            else:
                why = stopped or _("the autograder stopped before grading it.")
                entries = [placeholder_entry(e["id"], _("not graded"), e["points"], why, f"{i}.1")]
                line, info = summary_line(e["id"], 0, e["points"], _("not graded")), {"status": "not graded"}
            tests += entries
            lines.append(line)
            extra[e["id"]] = info
        if stopped:
            lines.append(stopped)
        from tutor import __version__

        return document(tests, output="\n".join(lines), execution_time=time.monotonic() - self.started,
                        extra_data={"d2l_tutor": __version__, "exercises": extra})

    def write(self, stopped: str = "") -> None:
        from tutor.gradescope import write_json

        write_json(self.results_path, self.document(stopped))

    def grade_all(self) -> None:
        from tutor.manifest import UnknownExercise, load_course

        course = load_course()
        submission = self.root / "submission"
        hide = tuple(str(self.root / part) for part in ("source", "results", "submission"))
        threads = grading_threads()
        memory = memory_limit_mb()
        from tutor import __version__

        print(f"d2l-tutor {__version__} (the bundle's: {self.config.get('d2l_tutor')}) grading "
              f"{len(self.config['exercises'])} exercises on "
              f"{self.config['device']}: {cpu_count()} CPUs, memory limit "
              f"{f'{memory} MB' if memory else 'none'}", flush=True)
        if memory is not None and memory < 2048:
            print(f"warning: {memory} MB of memory is little for torch in two processes (about 0.6 GB together, "
                  "more for a student's large tensors): raise it in Gradescope's Autograder Settings", flush=True)
        for i, e in enumerate(self.config["exercises"], 1):
            try:
                ex = course.exercise(e["id"])
            except UnknownExercise:
                self.zero(i, e, _("this d2l-tutor has no exercise {id}: the bundle does not match the d2l-tutor "
                                     "installed. Please tell your instructor.").format(id=e["id"]), _("not graded"),
                             "error")
                continue
            found, near, listing = find_submission(submission, e["file"])
            if not found:
                self.zero(i, e, self.missing_text(e["file"], near, listing),
                             _("no file {file}").format(file=e["file"]))
                continue
            try:
                self.grade_one(i, e, ex, found, submission, hide, threads)
            except Exception as exc:  # noqa: BLE001 - one exercise's failure leaves the others to grade
                import traceback

                traceback.print_exc(file=sys.stdout)
                self.zero(i, e, _("The autograder failed ({error}). This is not a problem with your code: please "
                                     "tell your instructor.").format(error=f"{type(exc).__name__}: {exc}"),
                             _("not graded"), "error")
            self.write()

    @staticmethod
    def missing_text(filename: str, near: list[str], listing: list[str]) -> str:
        text = _("Your submission has no file named {file}, so this exercise scores 0. Upload your file with exactly "
                 "that name.").format(file=filename)
        if near:
            text += "\n" + _("Files with a similar name (renamed copies and links are not graded): {files}").format(
                files=", ".join(near[:10]))
        elif listing:
            text += "\n" + _("Your submission holds: {files}").format(
                files=", ".join(listing[:20]) + (" ..." if len(listing) > 20 else ""))
        return text

    def zero(self, index: int, e: dict, text: str, note: str, status: str = "missing") -> None:
        from tutor.gradescope import placeholder_entry, summary_line

        print(f"{e['id']}: not graded: {text}", flush=True)
        self.done[e["id"]] = ([placeholder_entry(e["id"], e["file"], e["points"], text, f"{index}.1")],
                              summary_line(e["id"], 0, e["points"], note), {"status": status})

    def grade_one(self, index: int, e: dict, ex, found: list[Path], submission: Path, hide: tuple, threads: int):
        from tutor.engine.runner import grade
        from tutor.gradescope import result_entries, result_notes, summary_line

        path = found[0]
        rel = path.relative_to(submission).as_posix()
        print(f"{e['id']}: grading {rel} ({threads} threads per process)", flush=True)
        result = grade(ex, path, device=self.config["device"], strict=True, hide=hide, threads=threads)
        entries = result_entries(result, index, e["points"])
        notes = result_notes(result)
        if len(found) > 1:
            note = _("{n} files are named {file}; graded {graded} (the one nearest the top), not {others}.").format(
                n=len(found), file=e["file"], graded=rel,
                others=", ".join(p.relative_to(submission).as_posix() for p in found[1:]))
            notes.append(note)
        line = summary_line(e["id"], result.score, result.max_score or e["points"], "; ".join(notes))
        print(f"{e['id']}: {result.score:g}/{result.max_score:g} ({result.status}, {result.duration:.1f} s on "
              f"{result.device}, isolation {result.isolation})", flush=True)
        if result.output.strip():
            print(f"--- {e['id']}: what the submission printed ---\n{result.output.rstrip()}\n---", flush=True)
        self.done[e["id"]] = (entries, line, {
            "status": result.status, "file": rel, "score": result.score, "max_score": result.max_score,
            "device": result.device, "isolation": result.isolation, "torch": result.torch_version,
            "duration": result.duration, "file_hash": result.file_hash})


def run(root: Path) -> int:
    """Grade the submission in `root` and write `root`/results/results.json, whatever happens. 0 when graded."""
    import signal
    import traceback

    started = time.monotonic()
    exercises: list = []
    session = None

    def stop(signum, frame):
        raise Stopped(signal.Signals(signum).name)

    try:
        signal.signal(signal.SIGTERM, stop)
        raw = {}
        try:
            raw = json.loads((root / "source" / CONFIG_NAME).read_text(encoding="utf-8"))
            exercises = [e for e in raw.get("exercises", []) if isinstance(e, dict)]
            set_lang(raw.get("lang") if raw.get("lang") in LANGS else "en")
        except (OSError, ValueError, AttributeError):
            pass
        config = read_config(root / "source")
        session = Session(root, config)
        session.started = started
        session.write(_("grading has not finished yet."))  # what Gradescope finds if this run never ends
        session.grade_all()
        session.write()
        return 0
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the student gets a results.json that says so
        traceback.print_exc(file=sys.stdout)
        if isinstance(exc, (Stopped, KeyboardInterrupt)):
            message = _("The autograder was stopped ({reason}) before it finished: probably Gradescope's time limit. "
                        "Exercises graded before that keep their scores.").format(reason=str(exc) or "SIGINT")
        else:
            message = _("The autograder failed ({error}). This is not a problem with your code: please tell your "
                        "instructor.").format(error=f"{type(exc).__name__}: {exc}")
        try:
            if session is not None:
                session.write(message)
            else:
                from tutor.gradescope import write_json

                write_json(root / "results" / "results.json",
                           error_document(message, exercises, time.monotonic() - started))
        except BaseException:  # noqa: BLE001 - run_autograder writes its fallback
            traceback.print_exc(file=sys.stdout)
            return 3
        return 1


def check(source: Path) -> int:
    """setup.sh's last step: torch imports, and this d2l-tutor knows every exercise of the bundle."""
    config = read_config(source)
    from tutor import __version__
    from tutor.engine.containment import strict_isolation
    from tutor.manifest import load_course

    import torch

    course = load_course()
    ids = {ex.id for ex in course.exercises}
    unknown = [e["id"] for e in config["exercises"] if e["id"] not in ids]
    print(f"d2l-tutor {__version__} (bundle built with {config.get('d2l_tutor')}), torch {torch.__version__}, "
          f"cuda available: {torch.cuda.is_available()}, strict isolation here: {strict_isolation()}")
    if strict_isolation() == "process":
        print("warning: neither bubblewrap nor a user of its own is available here: students' code would run as "
              "this user, able to read the reference solutions", file=sys.stderr)
    if unknown:
        print(f"this d2l-tutor has no exercise {', '.join(unknown)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tutor.autograder",
                                     description="The grading side of a d2l-tutor Gradescope bundle.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="grade ROOT/submission, write ROOT/results/results.json")
    p_run.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT") or DEFAULT_ROOT))
    p_check = sub.add_parser("check", help="check that this Python can grade the bundle in SOURCE")
    p_check.add_argument("--source", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.root.resolve())
    return check(args.source)


if __name__ == "__main__":
    sys.exit(main())
