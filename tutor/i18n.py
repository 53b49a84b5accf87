"""Languages: which one the learner reads, and the gettext catalogs that translate every message (no torch).

The language comes from, in order: `--lang en|zh` (set_lang), the environment variable D2L_TUTOR_LANG, the
workspace's remembered choice, the locale (LANGUAGE, then the first of LC_ALL, LC_MESSAGES and LANG that is set,
as gettext reads them: `LANG=zh_CN.UTF-8` gives Chinese), else English.

Catalogs are standard gettext .po files, read with polib when Chinese is asked for (English needs none):
  tutor/locale/zh/LC_MESSAGES/tutor.po   the tool's own text: the CLI, the TUI, the verdicts' reason codes
                                          (msgctxt = the code, msgid = its English template)
  course/<chapter>/<exercise>/messages.zh.po   that exercise's grader messages (msgid = the English template)
`python -m tutor.catalog` extracts every message from the code into them; tests/test_i18n.py (and `d2l-tutor check`)
fails when one lacks its Chinese.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

LANGS = ("en", "zh")
LANG_NAMES = {"en": "English", "zh": "中文"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENV = "D2L_TUTOR_LANG"

_state = {"lang": None}


class LanguageError(ValueError):
    pass


def normalize(value: str | None) -> str | None:
    """"zh", "zh_CN.UTF-8", "zh-Hans", "Chinese" → "zh"; "en_US" → "en"; anything else → None."""
    if not value:
        return None
    v = value.strip().lower().replace("-", "_")
    if v.startswith("zh") or v in ("chinese", "中文"):
        return "zh"
    if v.startswith("en") or v in ("english", "c", "posix"):
        return "en"
    return None


def from_locale() -> str | None:
    """The language of the locale, as GNU gettext reads it: the first of LC_ALL, LC_MESSAGES and LANG that is set
    is the locale (LC_ALL=C with LANG=zh_CN.UTF-8 is C); in a locale other than C and POSIX, LANGUAGE (a list such
    as zh_CN:en) comes first. C and POSIX are English; a language we do not have (fr_FR) gives None, so English
    too."""
    locale = next((os.environ[var].strip() for var in ("LC_ALL", "LC_MESSAGES", "LANG")
                   if os.environ.get(var, "").strip()), "")
    name = locale.split(".", 1)[0].split("@", 1)[0]
    if name in ("", "C", "POSIX"):
        return "en" if name else None
    for item in os.environ.get("LANGUAGE", "").split(":"):
        if normalize(item):
            return normalize(item)
    return normalize(name)


def resolve(explicit: str | None = None, remembered: str | None = None) -> str:
    """The language to use: --lang, then D2L_TUTOR_LANG, then the workspace's choice, then the locale."""
    for source, value in (("--lang", explicit), (ENV, os.environ.get(ENV))):
        if value:
            lang = normalize(value)
            if lang is None:
                raise LanguageError(f"{source} must be one of {', '.join(LANGS)}, not {value!r}.")
            return lang
    return normalize(remembered) or from_locale() or "en"


def set_lang(lang: str) -> None:
    if lang not in LANGS:
        raise LanguageError(f"the language must be one of {', '.join(LANGS)}, not {lang!r}.")
    _state["lang"] = lang


def get_lang() -> str:
    if _state["lang"] is None:
        try:
            _state["lang"] = resolve()
        except LanguageError:
            _state["lang"] = "en"
    return _state["lang"]


# -- catalogs -----------------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def load_po(path: str) -> dict:
    """{(msgctxt, msgid): msgstr} for the translated entries of a .po file ({} when it is missing)."""
    if not os.path.isfile(path):
        return {}
    import polib

    entries = {}
    for entry in polib.pofile(path):
        if entry.msgstr and not entry.obsolete and "fuzzy" not in entry.flags:
            entries[(entry.msgctxt, entry.msgid)] = entry.msgstr
    return entries


def tutor_po(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "tutor.po"


def exercise_po(folder: Path, lang: str) -> Path:
    return Path(folder) / f"messages.{lang}.po"


def _course_entries(lang: str) -> dict:
    """Every exercise's grader messages in `lang`, merged (the English templates are unique enough to share), for
    the course in use now ($D2L_TUTOR_COURSE may name another one)."""
    from tutor.manifest import course_root

    return _entries_of(lang, str(course_root()))


@lru_cache(maxsize=8)
def _entries_of(lang: str, root: str) -> dict:
    from tutor.manifest import load_course

    merged: dict = {}
    try:
        exercises = load_course(Path(root)).exercises
    except Exception:  # noqa: BLE001 - no course, no grader messages to translate
        return merged
    for ex in exercises:
        merged.update(load_po(str(exercise_po(ex.folder, lang))))
    return merged


def translate(msgid: str, *, context: str | None = None, lang: str | None = None, grader: bool = False) -> str:
    """`msgid` in `lang` (default: the current language); the English itself when there is no translation."""
    lang = lang or get_lang()
    if lang == "en" or not msgid:
        return msgid
    if grader:
        found = _course_entries(lang).get((context, msgid))
        if found:
            return found
    return load_po(str(tutor_po(lang))).get((context, msgid), msgid)


def _(msgid: str) -> str:
    """The tool's own text in the current language (gettext's `_`)."""
    return translate(msgid)


def clear_caches() -> None:
    load_po.cache_clear()
    _entries_of.cache_clear()


def numbering_label(book: str) -> str:
    """How a section number is labelled in the numbering `book`: this course's syllabus, d2l-zh or d2l-en."""
    return {"zh": "d2l-zh", "en": "d2l-en"}.get(book) or _("course")
