"""Extract every translatable message from the code into gettext catalogs (`python -m tutor.catalog [--check]`).

What is extracted (by reading the sources with `ast`, never importing them):
  * the tool's own text: every `_("...")` in tutor/ (the CLI, the TUI, the renderer);
  * the verdicts' reason codes: tutor.messages.EN, as (msgctxt = code, msgid = English template);
  * each exercise's grader messages: the first argument of every `TestFailure("...")` in its grader.py, and every
    `N_("...")` (a template kept in a table and raised later).
They go to tutor/locale/<lang>/LC_MESSAGES/tutor.po and course/<chapter>/<exercise>/messages.<lang>.po: new
messages are added untranslated, messages no longer in the code are dropped, translations are kept.
`--check` changes nothing and exits 1 when a catalog is out of date or lacks a translation.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from tutor.i18n import LOCALE_DIR, exercise_po, tutor_po

PACKAGE = Path(__file__).resolve().parent
FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}")


def placeholders(text: str) -> set[str]:
    """The {names} a template formats (doubled braces are literal and do not count)."""
    return set(FIELD.findall(text.replace("{{", "").replace("}}", "")))


def _literal(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _name(func) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def extract_calls(path: Path, names: tuple[str, ...]) -> list[tuple[str, int]]:
    """(msgid, line) for every call of one of `names` whose message is a string literal, in source order."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in names:
            text = _literal(node.args[0]) if node.args else None
            if text is None:
                text = next((_literal(k.value) for k in node.keywords if k.arg == "msg"), None)
            if text:
                found.append((text, node.lineno))
    return sorted(found, key=lambda item: item[1])


def ui_messages() -> list[tuple[str | None, str, str]]:
    """(context, msgid, where) of the tool's own text, then of the reason codes."""
    out, seen = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if LOCALE_DIR in path.parents:
            continue
        for text, line in extract_calls(path, ("_",)):
            if (None, text) not in seen:
                seen.add((None, text))
                out.append((None, text, f"{path.relative_to(PACKAGE.parent)}:{line}"))
    from tutor.messages import EN

    for code, template in EN.items():
        out.append((code, template, "tutor/messages.py"))
    return out


def test_declarations(path: Path) -> list[tuple[str, int]]:
    """The names and metric names of a grader's tests (`@grader.test("name", ...)`, `@grader.smoke(..., metric=)`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("test", "smoke") \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "grader":
            for value in [node.args[0] if node.args else None] + [k.value for k in node.keywords
                                                                    if k.arg in ("metric",)]:
                text = _literal(value)
                if text:
                    found.append((text, node.lineno))
    return found


def grader_messages(grader: Path) -> list[tuple[None, str, str]]:
    """A grader's test names and metric names, then its messages (templates)."""
    out, seen = [], set()
    for text, line in test_declarations(grader) + extract_calls(grader, ("TestFailure", "N_")):
        if text not in seen:
            seen.add(text)
            out.append((None, text, f"{grader.name}:{line}"))
    return out


def catalogs() -> list[tuple[Path, list]]:
    """Every catalog file of one language (tutor.po first) with the messages it must hold, for Chinese."""
    from tutor.manifest import load_course

    out = [(tutor_po("zh"), ui_messages())]
    for ex in load_course().exercises:
        out.append((exercise_po(ex.folder, "zh"), grader_messages(ex.grader_path)))
    return out


def sync(path: Path, messages: list, *, write: bool) -> tuple[list, list, list]:
    """Bring the catalog at `path` in line with `messages`; returns (added, dropped, untranslated)."""
    import polib

    po = polib.pofile(str(path)) if path.is_file() else polib.POFile()
    po.metadata = {"Project-Id-Version": "d2l-tutor", "Language": "zh_CN", "MIME-Version": "1.0",
                   "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}
    have = {(e.msgctxt, e.msgid): e for e in po}
    wanted = {(ctx, msgid) for ctx, msgid, _ in messages}
    added = [(ctx, msgid) for ctx, msgid, _ in messages if (ctx, msgid) not in have]
    dropped = [key for key in have if key not in wanted]
    entries = []
    for ctx, msgid, where in messages:
        entry = have.get((ctx, msgid)) or polib.POEntry(msgctxt=ctx, msgid=msgid, msgstr="")
        entry.occurrences = [tuple(where.rsplit(":", 1)) if ":" in where else (where, "")]
        entries.append(entry)
    untranslated = [(e.msgctxt, e.msgid) for e in entries if not e.msgstr]
    if write and (added or dropped or not path.is_file()):
        new = polib.POFile(wrapwidth=0)
        new.metadata = po.metadata
        new.extend(entries)
        path.parent.mkdir(parents=True, exist_ok=True)
        new.save(str(path))
    return added, dropped, untranslated


def lost_placeholders(path: Path) -> list[tuple[str, list[str]]]:
    """(msgid, the {placeholders} its translation lacks) for each translated entry of the catalog at `path`:
    a translation that drops one would lose a value the learner needs (the call, the shapes, ...)."""
    import polib

    if not path.is_file():
        return []
    lost = []
    for entry in polib.pofile(str(path)):
        if entry.msgstr:
            missing = sorted(placeholders(entry.msgid) - placeholders(entry.msgstr))
            if missing:
                lost.append((entry.msgid, missing))
    return lost


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    problems = 0
    for path, messages in catalogs():
        added, dropped, untranslated = sync(path, messages, write=not check)
        rel = path.relative_to(PACKAGE.parent) if PACKAGE.parent in path.parents else path
        if added or dropped or untranslated:
            print(f"{rel}: {len(messages)} messages, {len(added)} new, {len(dropped)} gone, "
                  f"{len(untranslated)} untranslated")
        for msgid, missing in lost_placeholders(path):
            print(f"{rel}: the translation of {msgid[:60]!r} lacks {', '.join('{%s}' % m for m in missing)}")
            problems += 1
        problems += bool(untranslated) + (check and bool(added or dropped))
    return 1 if check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
