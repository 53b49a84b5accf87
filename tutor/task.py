"""The task of an exercise, as Markdown (what the TUI's task view and `d2l-tutor task` show): in Chinese its
task.zh.md, in English the docstrings of its stub (never the learner's file, which may have lost them). No torch,
no textual."""

from __future__ import annotations

import ast

from tutor.i18n import _, get_lang
from tutor.manifest import Exercise


def _signature(node: ast.FunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    return f"def {node.name}({ast.unparse(node.args)})"


def task_markdown(ex: Exercise, *, keys: bool = True) -> str:
    """The task: in Chinese, the exercise's task.zh.md; in English, the stub's docstrings (each public function's or
    class's signature and docstring)."""
    tail = [_("Keys: **e** your file, **g** grade, **h** a hint, **l** the lesson.")] if keys else []
    if get_lang() == "zh" and (ex.folder / "task.zh.md").is_file():
        text = (ex.folder / "task.zh.md").read_text(encoding="utf-8")
        return "\n\n".join([text.rstrip(), *tail]) + "\n"
    try:
        tree = ast.parse(ex.stub_path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return f"# {ex.title}\n\n" + _("The task text could not be read from {path}: {reason}.").format(
            path=ex.stub_path, reason=exc)
    parts = [f"# {ex.title}", _("Exercise `{id}` (course {course}, d2l-zh {zh}, d2l-en {en}), {points} points. "
                                "Write it in `{file}` in your workspace.").format(
        id=ex.id, course=ex.section("course"), zh=ex.section("zh"), en=ex.section("en"), points=ex.points,
        file=ex.filename)]
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        doc = ast.get_docstring(node)
        parts.append(f"## `{_signature(node)}`")
        if doc:
            parts.append(f"```text\n{doc}\n```")
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (item.name == "__init__" or not item.name.startswith("_")
                                                          or item.name == "forward"):
                    method_doc = ast.get_docstring(item)
                    parts.append(f"### `{_signature(item)}`")
                    if method_doc:
                        parts.append(f"```text\n{method_doc}\n```")
    parts += tail
    return "\n\n".join(parts)
