"""Reading a class's submissions: which file to grade for each (student, exercise), and a note for everything odd.

Three layouts are read (no torch; nothing here runs a learner's code):

* a folder with one subfolder per student, holding the same files as a learner's workspace:
  SUBMISSIONS/<student>/corr2d.py, SUBMISSIONS/<student>/gru.py, ...;
* a zip of such a folder, with or without one top-level folder around the students;
* a Gradescope "Export Submissions" archive (or its extracted folder): `submission_metadata.yml` beside one folder
  per submission, `submission_<id>/`, holding the files that were uploaded. The metadata maps each folder to its
  submitters (Ruby-style symbol keys):

      submission_216975964:
        :submitters:
        - :name: Alice Example
          :sid: '0675'
          :email: alice@example.edu
        :created_at: 2023-12-02 02:52:07.938335000 Z
        ...

  A student's id is the submitter's email (Gradescope requires one per account and it is unique per person; a
  `sid` is optional in a roster and names collide), else the sid, else the name, else the folder's name. Every
  member of a group submission gets the group's files. When one person has several submissions, the latest
  (`:created_at:`) is kept and the others are noted.

Bad content never raises: it becomes a `Note` (student, exercise or None, reason code, detail) and the run goes
on. A student folder or file whose name is not usable (`..`, NUL, control characters, a path separator, an absolute
path, more than 255 bytes) is refused; an empty exercise file is graded (it scores 0) and noted; a directory, a
symlink or a special file where an exercise file should be is treated as missing; files that are not exercises are
ignored with one note per student. `ClassError` (a one-line message) is for what stops the whole run: a source that
is not there or not a zip, a zip over the size or file-count cap, an unknown exercise id, a class with no students.

Zips are extracted under `workdir` only: entries with `..` or an absolute name, symlinks and duplicate names are
skipped with a note (never followed), and the total uncompressed size and the number of files are capped, both as
declared in the archive and as actually written.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

from tutor.i18n import _

METADATA = "submission_metadata.yml"
MAX_TOTAL_BYTES = 512 * 1024 * 1024   # a zip may not unpack to more than this
MAX_FILES = 50_000                    # ... nor hold more entries than this
MAX_FILE_BYTES = 5 * 1024 * 1024      # an exercise file larger than this is not graded (noted, treated as missing)
MAX_NAME_BYTES = 255                  # what most file systems allow for one name
EXTRACTED = "submissions"             # workdir/<this>: where a zip is unpacked
MARKER = ".d2l-tutor-unpacked"        # ... and the file that says it is ours (replaced on the next run)
JUNK = {"__MACOSX", "__pycache__", ".DS_Store", "Thumbs.db", "desktop.ini"}
_COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|[-_ ]copy|[-_ ]\d+)$", re.IGNORECASE)


class ClassError(Exception):
    """The class cannot be read at all (a one-line message says why and what to do)."""


class Note(NamedTuple):
    """Something odd about a submission: who, which exercise (None: the whole submission), a reason code
    (see NOTE_CODES) and a detail (a name, a list of names, a size)."""

    student: str | None
    exercise: str | None
    code: str
    detail: str = ""


# the reason codes of notes (their text: note_text)
NOTE_CODES = ("bad_name", "zip_unsafe_path", "zip_symlink", "zip_duplicate", "symlink", "not_a_file", "too_large",
              "unreadable", "empty_file", "nothing_submitted", "not_exercises", "near_miss", "stray_files",
              "duplicate_student", "gradescope_unlisted", "gradescope_no_folder", "gradescope_no_submitters")


def note_text(note: Note) -> str:
    """A note in the current language (tutor.i18n), one line."""
    templates = {
        "bad_name": _("a name that cannot be used was refused ({detail})"),
        "zip_unsafe_path": _("a zip entry that points outside its folder was skipped ({detail})"),
        "zip_symlink": _("a symbolic link in the zip was skipped ({detail})"),
        "zip_duplicate": _("a zip entry that appears twice was skipped ({detail})"),
        "symlink": _("{file} is a symbolic link: not graded, counted as missing"),
        "not_a_file": _("{file} is not a regular file (a folder?): not graded, counted as missing"),
        "too_large": _("{file} is too large to grade ({detail}): counted as missing"),
        "unreadable": _("could not be read ({detail})"),
        "empty_file": _("{file} is empty: graded as it is (0 points)"),
        "nothing_submitted": _("none of the exercise files ({detail}) was submitted: 0 points"),
        "not_exercises": _("files that are not exercises were ignored: {detail}"),
        "near_miss": _("{detail} looks like {file} but its name differs: rename it to {file} to have it graded"),
        "stray_files": _("files outside any student's folder were ignored: {detail}"),
        "duplicate_student": _("another submission has the same student id ({detail}); only one was kept"),
        "gradescope_unlisted": _("the folder {detail} is not in submission_metadata.yml: ignored"),
        "gradescope_no_folder": _("the submission {detail} in submission_metadata.yml has no folder: nothing to "
                                  "grade"),
        "gradescope_no_submitters": _("the submission {detail} has no submitters in submission_metadata.yml: "
                                      "ignored"),
    }
    template = templates.get(note.code)
    if template is None:
        return f"{note.code}: {note.detail}" if note.detail else note.code
    file = f"{note.exercise}.py" if note.exercise else ""
    return template.format(detail=note.detail, exercise=note.exercise or "", file=file, student=note.student or "")


@dataclass
class Class:
    """A class to grade. `students`: every student (sorted) -> {exercise id: the file to grade}, for the selected
    exercises only and only the files that can be graded (an empty file is there; a missing, refused or oversized
    one is not). `exercises`: the selected exercise ids (course order, or the order given). `people`: what is known
    of each student (for Gradescope: name, email, sid and the submission folder)."""

    students: dict[str, dict[str, Path]]
    exercises: list[str]
    notes: list[Note] = field(default_factory=list)
    kind: str = "folder"            # "folder", "zip" or "gradescope"
    root: Path | None = None        # the folder the students were read from (inside workdir for a zip)
    people: dict[str, dict[str, str]] = field(default_factory=dict)

    def notes_for(self, student: str | None) -> list[Note]:
        return [n for n in self.notes if n.student == student]

    def pairs(self) -> Iterator[tuple[str, str, Path | None]]:
        """(student, exercise, the file or None) for every student and selected exercise, in a stable order."""
        for student, files in self.students.items():
            for ex in self.exercises:
                yield student, ex, files.get(ex)


def file_hash(path: Path) -> str:
    """The sha256 of a file's bytes (hex), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- names ----------------------------------------------------------------------------------------------------------


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a student id or a file name (None when it can). Spaces and any language's letters are
    fine; empty names, `.` and `..`, NUL, control characters, undecodable bytes, path separators and names longer
    than 255 bytes are not."""
    if not name or not name.strip():
        return "empty"
    if "\x00" in name:
        return "NUL character"
    if name in (".", ".."):
        return "'.' or '..'"
    if "/" in name or "\\" in name:
        return "path separator"
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cc":
            return "control character"
        if category == "Cs":
            return "undecodable bytes"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return "longer than 255 bytes"
    return None


def _shown(name: str) -> str:
    """A name as a note shows it: printable, short."""
    text = ascii(name)[1:-1] if any(unicodedata.category(c) in ("Cc", "Cs") for c in name) else name
    return text if len(text) <= 80 else text[:77] + "..."


def _is_junk(name: str) -> bool:
    return name in JUNK or name.startswith(".") or name.startswith("._")


def _norm(name: str) -> str:
    """How a near-miss compares: NFC, case-folded, without a copy suffix ("(1)", "-copy", "_2"), '-' as '_'."""
    stem = unicodedata.normalize("NFC", name).casefold().strip()
    if stem.endswith(".py"):
        stem = stem[:-3].strip()
    stem = _COPY_SUFFIX.sub("", stem).strip()
    return stem.replace("-", "_").replace(" ", "_")


# -- reading a folder -----------------------------------------------------------------------------------------------


@dataclass
class _Found:
    files: dict[str, Path] = field(default_factory=dict)       # exercise id -> file (gradable)
    notes: list[tuple[str | None, str, str]] = field(default_factory=list)  # (exercise, code, detail)
    others: list[str] = field(default_factory=list)


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _unwrap(folder: Path, filenames: set[str], *, levels: int = 3) -> Path:
    """A submission folder that holds nothing but one folder (a zip's wrapper, a repository's top folder) and no
    exercise file of its own: that inner folder."""
    for _level in range(levels):
        try:
            entries = [e for e in _entries(folder) if not _is_junk(e.name)]
        except OSError:
            return folder
        if len(entries) != 1 or entries[0].name in filenames or not entries[0].is_dir(follow_symlinks=False):
            return folder
        folder = Path(entries[0].path)
    return folder


def _read_submission(folder: Path, by_file: dict[str, str]) -> _Found:
    """The exercise files in one student's (or one Gradescope submission's) folder."""
    found = _Found()
    folder = _unwrap(folder, set(by_file))
    try:
        entries = _entries(folder)
    except OSError as exc:
        found.notes.append((None, "unreadable", f"{folder.name}: {exc.strerror or exc}"))
        return found
    near_misses: list[tuple[str, str]] = []
    for entry in entries:
        name = entry.name
        if _is_junk(name):
            continue
        ex_id = by_file.get(name)
        if ex_id is None:
            problem = name_problem(name)
            if problem:
                found.notes.append((None, "bad_name", f"{_shown(name)}: {problem}"))
                continue
            shown = name + ("/" if entry.is_dir(follow_symlinks=False) else "")
            looks_like_py = name.casefold().endswith(".py") or "." not in name
            near = next((eid for fname, eid in by_file.items() if looks_like_py and _norm(name) == _norm(fname)),
                        None)
            if near is not None:
                near_misses.append((near, shown))
            else:
                found.others.append(shown)
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:
            found.notes.append((ex_id, "unreadable", f"{name}: {exc.strerror or exc}"))
            continue
        if stat.S_ISLNK(info.st_mode):
            found.notes.append((ex_id, "symlink", name))
        elif not stat.S_ISREG(info.st_mode):
            found.notes.append((ex_id, "not_a_file", name))
        elif info.st_size > MAX_FILE_BYTES:
            found.notes.append((ex_id, "too_large", f"{info.st_size} bytes > {MAX_FILE_BYTES}"))
        else:
            if info.st_size == 0:
                found.notes.append((ex_id, "empty_file", name))
            found.files[ex_id] = Path(entry.path)
    for ex_id, shown in near_misses:   # "Corr2d.py", "corr2d (1).py": say which name it should have
        if ex_id in found.files:
            found.others.append(shown)
        else:
            found.notes.append((ex_id, "near_miss", shown))
    return found


def _resolved(path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(os.path.abspath(path))


def _skipped(entry: os.DirEntry, skip: frozenset) -> bool:
    """The entry is a folder that must not be read as a student (the work or output folder, or one around it)."""
    if not skip:
        return False
    here = _resolved(entry.path)
    return any(here == p or here in p.parents for p in skip)


def _select(course, exercises, submitted: set[str]) -> list[str]:
    known = [ex.id for ex in course.exercises]
    if exercises is None:
        return [eid for eid in known if eid in submitted]
    chosen: list[str] = []
    for eid in exercises:
        eid = str(eid).strip()
        if eid.endswith(".py"):
            eid = eid[:-3]
        if eid not in known:
            raise ClassError(_("unknown exercise {name!r} in --exercises; the exercises are: {ids}.").format(
                name=eid, ids=", ".join(known)))
        if eid not in chosen:
            chosen.append(eid)
    return chosen


def _finish(kind: str, root: Path, found: dict[str, _Found], course, exercises, notes: list[Note],
            people: dict[str, dict[str, str]]) -> Class:
    submitted = {eid for f in found.values() for eid in f.files}
    selected = _select(course, exercises, submitted)
    order = {eid: i for i, eid in enumerate(ex.id for ex in course.exercises)}
    students: dict[str, dict[str, Path]] = {}
    for student in sorted(found, key=lambda s: (s.casefold(), s)):
        f = found[student]
        students[student] = {eid: f.files[eid] for eid in selected if eid in f.files}
        for ex_id, code, detail in f.notes:
            # with --exercises, what concerns the others is left out; otherwise every file's trouble is said
            if ex_id is None or ex_id in selected or exercises is None:
                notes.append(Note(student, ex_id, code, detail))
        if f.others:
            notes.append(Note(student, None, "not_exercises", ", ".join(f.others)))
        if not students[student]:
            wanted = selected or sorted(order, key=order.get)
            notes.append(Note(student, None, "nothing_submitted", ", ".join(f"{e}.py" for e in wanted)))
    return Class(students=students, exercises=selected, notes=notes, kind=kind, root=root,
                 people={s: people.get(s, {}) for s in students})


def _read_folder(root: Path, course, exercises, kind: str, skip: frozenset = frozenset()) -> Class:
    by_file = {ex.filename: ex.id for ex in course.exercises}
    if (root / METADATA).is_file():
        return _read_gradescope(root, course, exercises, by_file, skip)
    notes: list[Note] = []
    found: dict[str, _Found] = {}
    seen_nfc: dict[str, str] = {}
    stray: list[str] = []
    try:
        entries = _entries(root)
    except OSError as exc:
        raise ClassError(_("cannot read {path}: {error}").format(path=root, error=exc.strerror or exc)) from None
    for entry in entries:
        name = entry.name
        if _is_junk(name) or _skipped(entry, skip):
            continue
        problem = name_problem(name)
        if problem:
            notes.append(Note(None, None, "bad_name", f"{_shown(name)}: {problem}"))
            continue
        if entry.is_symlink():
            notes.append(Note(None, None, "bad_name", f"{_shown(name)}: symbolic link"))
            continue
        if not entry.is_dir(follow_symlinks=False):
            stray.append(name)
            continue
        student = unicodedata.normalize("NFC", name)
        if student in seen_nfc:
            notes.append(Note(student, None, "duplicate_student", f"{_shown(seen_nfc[student])}, {_shown(name)}"))
            continue
        seen_nfc[student] = name
        found[student] = _read_submission(Path(entry.path), by_file)
    if stray:
        notes.append(Note(None, None, "stray_files", ", ".join(stray)))
    if not found:
        raise ClassError(_("no student folders in {path}: expected {path}/<student>/<exercise>.py (the files of a "
                           "workspace, one folder per student) or a Gradescope export.").format(path=root))
    return _finish(kind, root, found, course, exercises, notes, {})


# -- Gradescope -----------------------------------------------------------------------------------------------------


def _closing_quote(text: str, quote: str, start: int) -> int:
    """The index of the quote that closes a quoted scalar opened at text[start - 1], or -1."""
    i = start
    while i < len(text):
        ch = text[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
            "P": "\u2029"}


def _unquote_double(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1]
        width = {"x": 2, "u": 4, "U": 8}.get(esc)
        if width:
            digits = body[i + 2:i + 2 + width]
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                out.append(body[i:i + 2 + width])
            i += 2 + width
        else:
            out.append(_ESCAPES.get(esc, esc))
            i += 2
    return "".join(out)


def _scalar(text: str) -> str:
    """A YAML scalar as a string: '...' and "..." unquoted, ~ and null as "", a plain one without its comment."""
    text = text.strip()
    if text[:1] == "'" and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text[:1] == '"' and text.endswith('"') and len(text) >= 2:
        return _unquote_double(text[1:-1])
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    return "" if text in ("~", "null", "Null", "NULL") else text


def _key_value(text: str) -> tuple[str, str] | None:
    """`key: value` (a Ruby symbol key `:name:` too, or a quoted key) -> (key, raw value); None if not a pair."""
    if text[:1] and text[0] in "'\"":
        end = _closing_quote(text, text[0], 1)
        if end < 0 or text[end + 1:end + 2] != ":":
            return None
        return _scalar(text[:end + 1]), text[end + 2:].strip()
    i = 1 if text.startswith(":") else 0
    while True:
        i = text.find(":", i)
        if i < 0:
            return None
        if i + 1 == len(text) or text[i + 1] in " \t":
            return text[:i].strip(), text[i + 1:].strip()
        i += 1


def parse_gradescope_metadata(text: str) -> dict[str, dict]:
    """{submission folder: {"submitters": [{"name", "email", "sid"}, ...], "created_at": str}} from the text of a
    Gradescope export's submission_metadata.yml. A small reader for that one shape (block mappings and lists,
    plain and quoted scalars); everything else in the file (results, history) is skipped, block scalars and
    multi-line quoted scalars included."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: dict[str, dict] = {}
    current: dict | None = None
    child_indent: int | None = None      # the indentation of a submission's keys
    in_submitters = False
    item_indent: int | None = None       # the indentation of the "- " of each submitter
    person: dict | None = None
    skip_deeper: int | None = None       # inside a block scalar: skip the lines indented more than this
    pending: list | None = None          # an unfinished quoted value: [target, key, text so far]

    def store(target: dict, key: str, raw: str, column: int) -> None:
        nonlocal pending, skip_deeper
        if raw[:1] and raw[0] in "'\"" and _closing_quote(raw, raw[0], 1) < 0:
            pending = [target, key, raw]
        elif raw[:1] and raw[0] in "|>":
            skip_deeper = column
            target[key] = ""
        else:
            target[key] = _scalar(raw)

    for line in lines:
        if pending is not None:
            pending[2] += " " + line.strip()
            if _closing_quote(pending[2], pending[2][0], 1) >= 0:
                pending[0][pending[1]] = _scalar(pending[2])
                pending = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if skip_deeper is not None:
            if indent > skip_deeper:
                continue
            skip_deeper = None
        dash = stripped.startswith("- ") or stripped == "-"
        body = stripped[1:].lstrip() if dash else stripped
        column = indent + (len(stripped) - len(body))      # where the key (if any) starts
        pair = _key_value(body) if body else None
        if indent == 0:
            in_submitters, person, child_indent = False, None, None
            current = out.setdefault(pair[0], {"submitters": [], "created_at": ""}) if pair and not dash else None
            continue
        if current is None:
            continue
        if child_indent is None:
            child_indent = indent
        if indent == child_indent and not dash:             # a key of the submission
            in_submitters, person = False, None
            if pair is None:
                continue
            key, value = pair[0].lstrip(":"), pair[1]
            if key == "submitters":
                in_submitters, item_indent = value != "[]", None
            elif key == "created_at":
                store(current, "created_at", value, column)
            else:
                store({}, key, value, column)
            continue
        if in_submitters and dash and (item_indent is None or indent == item_indent):
            item_indent, person = indent, {}
            current["submitters"].append(person)
        target = person if in_submitters and person is not None and column == item_indent + 2 else {}
        if pair is not None:
            key, value = pair[0].lstrip(":"), pair[1]
            store(target if key in ("name", "email", "sid") else {}, key, value, column)
    if pending is not None:
        pending[0][pending[1]] = _scalar(pending[2] + pending[2][0])
    return out


def student_id(submitter: dict, folder: str) -> str:
    """The id of a Gradescope submitter: the email, else the sid, else the name, else the submission folder."""
    for key in ("email", "sid", "name"):
        value = unicodedata.normalize("NFC", str(submitter.get(key) or "").strip())
        if value and name_problem(value) is None:
            return value
    return folder


def _read_gradescope(root: Path, course, exercises, by_file: dict[str, str], skip: frozenset) -> Class:
    notes: list[Note] = []
    try:
        metadata = parse_gradescope_metadata((root / METADATA).read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise ClassError(_("cannot read {path}: {error}").format(path=root / METADATA,
                                                                  error=exc.strerror or exc)) from None
    folders = {}
    stray = []
    for entry in _entries(root):
        if _is_junk(entry.name) or entry.name == METADATA or _skipped(entry, skip):
            continue
        if entry.is_dir(follow_symlinks=False):
            folders[entry.name] = Path(entry.path)
        else:
            stray.append(entry.name)
    if stray:
        notes.append(Note(None, None, "stray_files", ", ".join(stray)))
    for name in sorted(set(folders) - set(metadata)):
        notes.append(Note(None, None, "gradescope_unlisted", _shown(name)))
    found: dict[str, _Found] = {}
    people: dict[str, dict[str, str]] = {}
    taken: dict[str, str] = {}   # student -> created_at of the submission kept
    # the latest submission of each person wins: read them newest first
    for sub in sorted(metadata, key=lambda s: (str(metadata[s].get("created_at", "")), s), reverse=True):
        info = metadata[sub]
        submitters = info.get("submitters") or []
        if not submitters:
            notes.append(Note(None, None, "gradescope_no_submitters", _shown(sub)))
            continue
        problem = name_problem(sub)
        folder = folders.get(sub) if problem is None else None
        submission = _read_submission(folder, by_file) if folder is not None else None
        for person in submitters:
            student = student_id(person, sub)
            if student in found:
                kept = people[student]["submission"]
                notes.append(Note(student, None, "duplicate_student", f"{_shown(sub)}, {kept}"))
                continue
            if submission is None:
                notes.append(Note(student, None, "gradescope_no_folder", _shown(sub)))
            found[student] = submission if submission is not None else _Found()
            taken[student] = str(info.get("created_at", ""))
            people[student] = {"name": str(person.get("name") or ""), "email": str(person.get("email") or ""),
                               "sid": str(person.get("sid") or ""), "submission": sub}
    if not found:
        raise ClassError(_("no submitters in {path}: is it a Gradescope export?").format(path=root / METADATA))
    return _finish("gradescope", root, found, course, exercises, notes, people)


# -- zips -----------------------------------------------------------------------------------------------------------


def _entry_name(info: zipfile.ZipInfo) -> str:
    """A zip entry's name as its author meant it: UTF-8 names that lack the UTF-8 flag are read as UTF-8, and
    backslashes (written by some Windows tools) separate folders."""
    name = info.orig_filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def _unsafe(name: str) -> str | None:
    """Why a zip entry's path is refused: it is absolute, climbs with `..`, or has an unusable part."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return "'..'"
    for part in parts:
        problem = name_problem(part)
        if problem:
            return problem
    return None if parts else "empty"


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def extract_zip(archive: Path, dest: Path, *, max_bytes: int = MAX_TOTAL_BYTES, max_files: int = MAX_FILES
                ) -> list[Note]:
    """Unpack `archive` into the new folder `dest` (replacing it) safely; the notes for the entries skipped.
    Raises ClassError when it is not a zip or exceeds a cap (nothing is left behind then)."""
    notes: list[Note] = []
    dest = Path(dest)
    if (dest.exists() or dest.is_symlink()) and not (dest.is_dir() and not dest.is_symlink()
                                                     and (dest / MARKER).is_file()):
        raise ClassError(_("{path} exists and was not made by d2l-tutor: it is not replaced (choose another "
                           "output folder).").format(path=dest))
    partial = dest.with_name(dest.name + f".partial-{os.getpid()}")
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ClassError(_("{path} is not a zip file that can be read ({error}).").format(
            path=archive, error=exc)) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > max_files:
            raise ClassError(_("{path} holds {n} entries, more than the {cap} allowed: is it really a class's "
                               "submissions?").format(path=archive, n=len(infos), cap=max_files))
        declared = sum(max(0, i.file_size) for i in infos)
        if declared > max_bytes:
            raise ClassError(_("{path} would unpack to {size} MB, more than the {cap} MB allowed (a zip bomb?).")
                             .format(path=archive, size=declared // 2**20, cap=max_bytes // 2**20))
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        inside = partial.resolve()
        written = 0
        seen: set[str] = set()
        try:
            for info in infos:
                name = _entry_name(info)
                problem = _unsafe(name)
                if problem is not None:
                    code = "zip_unsafe_path" if problem in ("absolute path", "'..'") else "bad_name"
                    notes.append(Note(None, None, code, f"{_shown(name)}: {problem}"))
                    continue
                rel = "/".join(p for p in name.split("/") if p not in ("", "."))
                target = partial.joinpath(*rel.split("/"))
                if inside not in target.resolve().parents:   # defence in depth: never outside
                    notes.append(Note(None, None, "zip_unsafe_path", _shown(rel)))
                    continue
                if _is_symlink(info):   # never created: its folder is (the student is known, with nothing)
                    notes.append(Note(None, None, "zip_symlink", _shown(rel)))
                    if target.parent != partial and not target.parent.is_symlink():
                        target.parent.mkdir(parents=True, exist_ok=True)
                    continue
                key = unicodedata.normalize("NFC", rel).rstrip("/")
                if key in seen:
                    notes.append(Note(None, None, "zip_duplicate", _shown(rel)))
                    continue
                seen.add(key)
                try:
                    if info.is_dir() or name.endswith("/"):
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.exists() or target.is_symlink():
                        notes.append(Note(None, None, "zip_duplicate", _shown(rel)))
                        continue
                    with zf.open(info) as src, open(target, "xb") as out:
                        while True:
                            chunk = src.read(1 << 16)
                            if not chunk:
                                break
                            written += len(chunk)
                            if written > max_bytes:
                                raise ClassError(_("{path} would unpack to more than the {cap} MB allowed (a zip "
                                                   "bomb?).").format(path=archive, cap=max_bytes // 2**20))
                            out.write(chunk)
                except ClassError:
                    raise
                except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError) as exc:
                    # a name the file system refuses, an encrypted or corrupt entry: skip it, say so
                    notes.append(Note(None, None, "unreadable", f"{_shown(rel)}: {exc}"))
                    try:
                        target.unlink()
                    except OSError:
                        pass
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    (partial / MARKER).write_text("unpacked by d2l-tutor grade-class; replaced on the next run\n", encoding="utf-8")
    if dest.exists() or dest.is_symlink():
        shutil.rmtree(dest)
    os.replace(partial, dest)
    return notes


def _class_root(folder: Path, filenames: set[str]) -> Path:
    """The folder that holds the students (or a Gradescope export's metadata): `folder`, or the single folder a
    zip wraps them in (not a single student's folder: that one holds exercise files)."""
    for _level in range(3):
        if (folder / METADATA).is_file():
            return folder
        entries = [e for e in _entries(folder) if not _is_junk(e.name)]
        if len(entries) != 1 or not entries[0].is_dir(follow_symlinks=False):
            return folder
        inner = Path(entries[0].path)
        if (inner / METADATA).is_file():
            return inner
        if any(e.name in filenames for e in _entries(inner)):
            return folder
        folder = inner
    return folder


def read_class(source: Path, workdir: Path, course, *, exercises: list[str] | None = None,
               exclude=(), max_bytes: int = MAX_TOTAL_BYTES, max_files: int = MAX_FILES) -> Class:
    """Read a class: a folder of student folders, a zip of one, or a Gradescope export (zip or folder). A zip is
    unpacked into workdir/submissions. `exercises` None selects every exercise any student submitted (in course
    order); otherwise the ids given (ClassError for an unknown one). `workdir` and the folders in `exclude` (the
    output folder) are never read as students, should they be inside a submissions folder."""
    source = Path(source)
    skip = frozenset(_resolved(p) for p in (workdir, *exclude))
    if exercises is not None:
        _select(course, exercises, set())        # an unknown id fails before anything is unpacked
    if source.is_dir():
        return _read_folder(source, course, exercises, kind="folder", skip=skip)
    if not source.exists():
        raise ClassError(_("{path} does not exist: give a folder of student folders, a zip of one, or a Gradescope "
                           "export.").format(path=source))
    if not zipfile.is_zipfile(source):
        raise ClassError(_("{path} is not a zip file that can be read ({error}).").format(
            path=source, error=_("not a zip")))
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    dest = workdir / EXTRACTED
    zip_notes = extract_zip(source, dest, max_bytes=max_bytes, max_files=max_files)
    root = _class_root(dest, {ex.filename for ex in course.exercises})
    result = _read_folder(root, course, exercises, kind="zip", skip=skip)
    result.notes[:0] = zip_notes
    return result
