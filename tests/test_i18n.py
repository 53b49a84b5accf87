"""Two languages and three numberings (issue 9): the catalogs are complete, the language is chosen in the documented
order, a Chinese learner reads everything in Chinese, section numbers of every book find the same exercise, and
rich never eats or cuts the course's text (hints, lessons, code)."""

from __future__ import annotations

import io
import os
import re
import string
import subprocess
import sys

import polib
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import tutor.cli as cli
from tests.conftest import REPO
from tutor import i18n, settings
from tutor.catalog import catalogs, grader_messages, placeholders, sync, ui_messages
from tutor.cli import EXIT_NOT_FULL, EXIT_OK, EXIT_USAGE, app
from tutor.launch import early_language
from tutor.messages import EN
from tutor.i18n import numbering_label
from tutor.workspace import init_workspace

runner = CliRunner()
LOCALE_VARS = ("D2L_TUTOR_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def keep_language(monkeypatch):
    """Every test starts from a neutral locale and leaves the process's language as it found it."""
    before = i18n.get_lang()
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    yield
    i18n.set_lang(before)


@pytest.fixture
def ws(tmp_path, monkeypatch, course):
    init_workspace(tmp_path / "ws", course)
    monkeypatch.chdir(tmp_path / "ws")
    return tmp_path / "ws"


def rel(path) -> str:
    return str(path.relative_to(REPO)) if REPO in path.parents else str(path)


# -- the catalogs: every message, lesson, task and hint has its Chinese ------------------------------------------


def test_every_message_has_its_chinese_entry():
    """In-process `python -m tutor.catalog --check`: the list of what lacks its Chinese, or is stale."""
    missing = []
    for path, messages in catalogs():
        _added, dropped, untranslated = sync(path, messages, write=False)
        missing += [f"{rel(path)}: no Chinese for {msgid!r}" + (f" (code {ctx})" if ctx else "")
                    for ctx, msgid in untranslated]
        missing += [f"{rel(path)}: {msgid!r} is no longer in the code" for _ctx, msgid in dropped]
    assert not missing, ("run `python -m tutor.catalog`, then translate the empty msgstr entries:\n"
                         + "\n".join(missing))


def test_every_translation_keeps_the_placeholders_of_its_template():
    wrong = []
    for path, _messages in catalogs():
        if not path.is_file():
            continue  # the completeness test names it
        for entry in polib.pofile(str(path)):
            if not entry.msgstr or entry.obsolete:
                continue
            where = f"{rel(path)}: {entry.msgid[:70]!r}"
            if placeholders(entry.msgid) != placeholders(entry.msgstr):
                wrong.append(f"{where}: English has {sorted(placeholders(entry.msgid))}, Chinese has "
                             f"{sorted(placeholders(entry.msgstr))}")
            try:
                list(string.Formatter().parse(entry.msgid))
            except ValueError:
                continue  # not a template: braces are text in both
            try:
                list(string.Formatter().parse(entry.msgstr))
            except ValueError as exc:
                wrong.append(f"{where}: the Chinese is not a valid template ({exc})")
    assert not wrong, "\n".join(wrong)


def test_every_lesson_task_title_and_hint_exists_in_chinese(course):
    missing = []
    for ch in course.chapters:
        if not ch.title_zh or not CJK.search(ch.title_zh):
            missing.append(f"chapter {ch.number}: title_zh")
    for lesson in course.lessons:
        if not lesson.title_zh:
            missing.append(f"lesson {lesson.id}: title_zh")
        if not lesson.path_zh.is_file():
            missing.append(f"{rel(lesson.path_zh)}: missing")
            continue
        zh = lesson.path_zh.read_text(encoding="utf-8")
        if not zh.startswith("#") or len(CJK.findall(zh)) < 200:
            missing.append(f"{rel(lesson.path_zh)}: not a Chinese lesson")
    for ex in course.exercises:
        task = ex.folder / "task.zh.md"
        if not task.is_file() or not CJK.search(task.read_text(encoding="utf-8")):
            missing.append(f"{rel(task)}: missing or not Chinese")
        if not ex.title_zh:
            missing.append(f"{ex.id}: title_zh")
        if len(ex.hints_zh) != len(ex.hints):
            missing.append(f"{ex.id}: {len(ex.hints)} hints but {len(ex.hints_zh)} hints_zh")
        missing += [f"{ex.id}: hints_zh[{i}] is not Chinese" for i, h in enumerate(ex.hints_zh) if not CJK.search(h)]
    assert not missing, "\n".join(missing)


# -- which language: --lang, D2L_TUTOR_LANG, the workspace, the locale --------------------------------------------


@pytest.mark.parametrize("argv,env,remembered,expected", [
    (["--lang", "en"], {"D2L_TUTOR_LANG": "zh", "LANG": "zh_CN.UTF-8"}, "zh", "en"),  # --lang beats everything
    (["--lang=zh"], {"D2L_TUTOR_LANG": "en", "LANG": "C"}, "en", "zh"),
    ([], {"D2L_TUTOR_LANG": "zh", "LANG": "C"}, "en", "zh"),                          # the variable beats the rest
    ([], {"D2L_TUTOR_LANG": "en", "LANG": "zh_CN.UTF-8"}, "zh", "en"),
    ([], {"LANG": "zh_CN.UTF-8"}, "en", "en"),                                        # the workspace beats the locale
    ([], {"LANG": "C"}, "zh", "zh"),
    ([], {"LANG": "zh_CN.UTF-8"}, None, "zh"),                                         # the locale
    ([], {"LANG": "C"}, None, "en"),
    ([], {"LANG": "C.UTF-8"}, None, "en"),
    ([], {"LANG": "fr_FR.UTF-8"}, None, "en"),                                         # a language we do not have
    ([], {}, None, "en"),
    ([], {"LC_ALL": "zh_CN.UTF-8", "LANG": "C"}, None, "zh"),                          # gettext's order
    ([], {"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, None, "zh"),
    ([], {"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, None, "en"),                          # LC_ALL=C means C
    ([], {"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, None, "en"),
    ([], {"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}, None, "zh"),               # GNU's list comes first...
    ([], {"LANGUAGE": "fr:zh_CN", "LANG": "en_US.UTF-8"}, None, "zh"),
    ([], {"LANGUAGE": "zh_CN", "LANG": "C.UTF-8"}, None, "en"),                      # ... except in the C locale
])
def test_the_language_comes_from_the_first_source_that_says(ws, monkeypatch, argv, env, remembered, expected):
    if remembered:
        settings.save(ws / ".d2l-tutor", lang=remembered)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    i18n.set_lang("zh" if expected == "en" else "en")  # the opposite: the start-up must change it
    early_language(["list", *argv])
    assert i18n.get_lang() == expected


def test_the_workspace_named_on_the_command_line_is_the_one_that_remembers(tmp_path, monkeypatch, course):
    init_workspace(tmp_path / "mine", course)
    settings.save(tmp_path / "mine" / ".d2l-tutor", lang="zh")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("LANG", "C")
    for argv in (["list", "-w", str(tmp_path / "mine")], ["list", f"--workspace={tmp_path / 'mine'}"]):
        i18n.set_lang("en")
        early_language(argv)
        assert i18n.get_lang() == "zh", argv
    # The CLI settles it too, in-process: what the workspace remembers, unless the environment or --lang says.
    listed = runner.invoke(app, ["list", "-w", str(tmp_path / "mine")])
    assert listed.exit_code == EXIT_OK and "练习" in listed.output, listed.output
    monkeypatch.setenv("D2L_TUTOR_LANG", "en")
    listed = runner.invoke(app, ["list", "-w", str(tmp_path / "mine")])
    assert "exercises at full marks" in listed.output and "练习" not in listed.output
    monkeypatch.delenv("D2L_TUTOR_LANG")
    listed = runner.invoke(app, ["list", "-w", str(tmp_path / "mine"), "--lang", "en"])
    assert "exercises at full marks" in listed.output
    assert settings.load(tmp_path / "mine" / ".d2l-tutor")["lang"] == "en"  # remembered: the next one is English


# -- the "done when", as a learner types it -----------------------------------------------------------------


def english_fragments(course, exercise_id: str) -> set[str]:
    """The English words of every template a grading can print: the verdicts (tutor.messages.EN), the tool's own
    text and the exercise's grader messages and test names. Only pieces of two words or more: a lone word (`cpu`,
    `corr2d`) may be a name or code."""
    templates = list(EN.values()) + [msgid for _ctx, msgid, _w in ui_messages()]
    templates += [msgid for _ctx, msgid, _w in grader_messages(course.exercise(exercise_id).grader_path)]
    fragments = set()
    for template in templates:
        try:
            literals = [literal for literal, *_rest in string.Formatter().parse(template)]
        except ValueError:
            literals = [template]
        for literal in literals:
            for piece in literal.split("\n"):
                piece = piece.strip(" .,:;()")
                if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2:
                    fragments.add(piece)
    return fragments


def english_lines(output: str, fragments: set[str], code: str = "") -> list[str]:
    """The lines of `output` that hold one of `fragments`, once the learner's own code (`code`, quoted in a
    traceback) is taken out of them."""
    quoted = sorted({line.strip() for line in code.splitlines() if len(line.strip()) > 8}, key=len, reverse=True)
    found = []
    for line in output.splitlines():
        text = line
        for source in quoted:
            text = text.replace(source, "")
        found += [f"{line.strip()!r} has {fragment!r}" for fragment in fragments if fragment in text]
    return found


def learner(*args, cwd, lang_env: dict, columns: int = 100):
    """The real console entry point, with exactly the locale given (nothing inherited from this process's)."""
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARS}
    env.update(lang_env)
    env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_chinese_learner_reads_the_lesson_and_the_verdicts_in_chinese(tmp_path, course):
    """LANG=zh_CN.UTF-8, a fresh workspace, commands run from the folder above it (where `init` was run)."""
    zh = {"LANG": "zh_CN.UTF-8"}
    made = learner("init", cwd=tmp_path, lang_env=zh)
    assert made.returncode == EXIT_OK and "工作区" in made.stdout, made.stdout + made.stderr

    lesson = learner("lesson", "6.2", "--book", "zh", "--plain", cwd=tmp_path, lang_env=zh)
    assert lesson.returncode == EXIT_OK, lesson.stderr
    zh_text = course.lesson("corr2d").path_zh.read_text(encoding="utf-8")
    assert zh_text.strip() in lesson.stdout  # the Chinese lesson, whole
    assert "为什么深度学习里的“卷积”其实是互相关运算" in lesson.stdout
    footer = lesson.stdout.strip().splitlines()[-2]
    assert "本课程 6.1" in footer and "d2l-zh 6.2" in footer and "d2l-en 7.2" in footer, footer

    # Wide enough that the stub's line quoted in the verdict stays on one line: it is code, English is fine there.
    graded = learner("grade", "corr2d", cwd=tmp_path, lang_env=zh, columns=240)
    assert graded.returncode == EXIT_NOT_FULL, graded.stdout + graded.stderr
    points = course.exercise("corr2d").points
    assert f"0/{points}" in graded.stdout and "二维互相关运算" in graded.stdout and "d2l-zh 6.2" in graded.stdout
    fragments = english_fragments(course, "corr2d")
    stub = course.exercise("corr2d").stub_path.read_text(encoding="utf-8")
    english = english_lines(graded.stdout + graded.stderr, fragments, stub)
    assert not english, "English in the Chinese verdicts:\n" + "\n".join(english)

    in_english = learner("grade", "corr2d", "--lang", "en", cwd=tmp_path, lang_env=zh, columns=240)
    assert in_english.returncode == EXIT_NOT_FULL
    assert "is not written yet" in in_english.stdout and not CJK.search(in_english.stdout), in_english.stdout
    assert len(english_lines(in_english.stdout, fragments, stub)) >= 3  # the detector above does see English
    again = learner("lesson", "corr2d", "--plain", cwd=tmp_path, lang_env=zh)  # --lang en was remembered
    assert course.lesson("corr2d").path.read_text(encoding="utf-8").strip() in again.stdout
    assert "course 6.1 · d2l-zh 6.2 · d2l-en 7.2" in again.stdout


# -- section numbers of the three books --------------------------------------------------------------------------


@pytest.mark.parametrize("number,book", [("6.1", "course"), ("6.2", "zh"), ("7.2", "en")])
def test_lesson_grade_and_hint_take_the_number_of_each_book(ws, course, number, book):
    corr2d = course.exercise("corr2d")
    lesson = runner.invoke(app, ["lesson", number, "--book", book, "--plain"])
    assert lesson.exit_code == EXIT_OK, lesson.output
    assert course.lesson("corr2d").path.read_text(encoding="utf-8").strip() in lesson.output
    hint = runner.invoke(app, ["hint", number, "--book", book])
    assert hint.exit_code == EXIT_OK and corr2d.hints[0] in hint.output, hint.output
    # A folder as --file stops grading before it starts, with the exercise's file name in the message.
    graded = runner.invoke(app, ["grade", number, "--book", book, "--file", str(ws)])
    assert graded.exit_code == EXIT_USAGE and "corr2d.py" in graded.output, graded.output


@pytest.mark.parametrize("command,number,book,says", [
    ("lesson", "9.8", "course", "9.8 is d2l-zh's numbering (beam-search): add --book zh."),
    ("hint", "3.7", "zh", "3.7 is d2l-en's numbering (weight_decay): add --book en."),
    ("grade", "6.1", "en", "6.1 is this course's numbering (corr2d): add --book course."),
])
def test_a_number_of_another_book_says_which_book(ws, command, number, book, says):
    result = runner.invoke(app, [command, number, "--book", book])
    assert result.exit_code == EXIT_USAGE
    assert result.output.strip() == f"error: {says}"


def test_the_remembered_numbering_reads_numbers_and_says_so_in_chinese(ws):
    assert runner.invoke(app, ["list", "--book", "zh"]).exit_code == EXIT_OK  # remembered from now on
    assert "Hint 1 of" in runner.invoke(app, ["hint", "6.2"]).output
    wrong = runner.invoke(app, ["hint", "6.1", "--lang", "zh"])
    assert wrong.exit_code == EXIT_USAGE
    assert "6.1 是本课程的编号（corr2d）：请加上 --book course。" in wrong.output, wrong.output
    two = runner.invoke(app, ["grade", "11.7", "--book", "course", "--lang", "en"])
    assert two.exit_code == EXIT_USAGE and "Section 11.7 has more than one: sequence_mask, seq2seq, bleu" in two.output


# -- rich never eats brackets or cuts lines ----------------------------------------------------------------------


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_hint_is_printed_whole_in_both_languages(ws, course):
    """Hints hold code with square brackets (X[i:i + kh, j:j + kw], [W_xz, ...]) that rich markup would eat."""
    lost = []
    for lang in ("en", "zh"):
        for ex in course.exercises:
            hints = ex.hints_in(lang)
            assert runner.invoke(app, ["hint", ex.id, "--reset", "--lang", lang]).exit_code == EXIT_OK
            for _ in hints:
                shown = runner.invoke(app, ["hint", ex.id, "--lang", lang], env={"COLUMNS": "40"})
            assert shown.exit_code == EXIT_OK, shown.output
            printed = squash(shown.output)
            lost += [f"{ex.id} ({lang}) hint {i + 1}: {h}" for i, h in enumerate(hints) if squash(h) not in printed]
    assert not lost, "\n".join(lost)


def markdown_pieces(text: str):
    """What a Markdown renderer must show of `text`: every piece of text and inline code, and each line of every
    code block (rich parses with markdown-it, as here)."""
    from markdown_it import MarkdownIt

    for token in MarkdownIt().enable("strikethrough").enable("table").parse(text):
        if token.type in ("fence", "code_block"):
            yield from (("code", line) for line in token.content.splitlines() if line.strip())
        for child in token.children or ():
            if child.type in ("text", "code_inline") and child.content.strip():
                yield "text", child.content


def recording_console(width: int) -> Console:
    """Like the CLI's own console (tutor.cli.out), at a fixed width and recording what it prints."""
    return Console(file=io.StringIO(), width=width, height=50, highlight=False, soft_wrap=False, color_system=None)


def test_every_lesson_renders_whole_at_80_columns(tmp_path, monkeypatch, course):
    """Nothing in brackets lost, no code or formula line cut (wrapped is fine), nothing wider than the terminal."""
    monkeypatch.chdir(tmp_path)
    problems = []
    for lesson in course.lessons:
        for lang in ("en", "zh"):
            console = recording_console(80)
            monkeypatch.setattr(cli, "out", console)
            result = runner.invoke(app, ["lesson", lesson.id, "--lang", lang])
            assert result.exit_code == EXIT_OK, result.output
            shown = console.file.getvalue()
            flat = squash(shown)
            name = f"{lesson.id} ({lang})"
            source = lesson.path_in(lang).read_text(encoding="utf-8")
            for kind, piece in markdown_pieces(source):
                if squash(piece) not in flat:
                    problems.append(f"{name}: {kind} lost or cut: {piece!r}")
            if shown.count("…") > source.count("…"):
                problems.append(f"{name}: rich cut {shown.count('…') - source.count('…')} lines (…)")
            problems += [f"{name}: a line of {cell_len(line)} cells: {line!r}" for line in shown.splitlines()
                         if cell_len(line) > 80 and "https://" not in line]  # a link is printed whole
            numbers = " · ".join(f"{numbering_label(b)} {lesson.section(b)}" for b in ("course", "zh", "en"))
            if numbers not in shown:
                problems.append(f"{name}: no section numbers {numbers!r}")
    assert not problems, "\n".join(problems)


def test_a_long_lesson_is_paged_in_a_terminal_and_plain_never_is(tmp_path, monkeypatch, course):
    monkeypatch.chdir(tmp_path)
    paged = []

    class Pager:
        def __enter__(self):
            paged.append(True)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(cli, "is_interactive", lambda: True)
    monkeypatch.setenv("LESS", "")
    monkeypatch.delenv("LESS")  # (set first, so that the test's end takes away what the command sets)
    console = recording_console(80)
    monkeypatch.setattr(console, "pager", lambda **kw: Pager())
    monkeypatch.setattr(cli, "out", console)
    assert runner.invoke(app, ["lesson", "bleu"]).exit_code == EXIT_OK
    assert paged == [True] and "Course BLEU versus corpus BLEU" in console.file.getvalue()
    assert "R" in os.environ["LESS"]  # less shows the colours instead of escape codes

    plain = runner.invoke(app, ["lesson", "bleu", "--plain"])
    assert plain.exit_code == EXIT_OK and paged == [True] and "## Course BLEU versus corpus BLEU" in plain.output

    tall = recording_console(80)
    tall.height = 10_000  # the whole lesson fits: printed as it is
    monkeypatch.setattr(tall, "pager", lambda **kw: Pager())
    monkeypatch.setattr(cli, "out", tall)
    assert runner.invoke(app, ["lesson", "bleu"]).exit_code == EXIT_OK
    assert paged == [True] and "Course BLEU versus corpus BLEU" in tall.file.getvalue()
