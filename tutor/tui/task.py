"""The task of an exercise, as Markdown, from the docstrings of its stub (never from the learner's file, which
may have lost them)."""

from __future__ import annotations

import ast

from tutor.manifest import Exercise


def _signature(node: ast.FunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    return f"def {node.name}({ast.unparse(node.args)})"


def task_markdown(ex: Exercise) -> str:
    """The stub's module docstring, then each public function's or class's signature and docstring."""
    try:
        tree = ast.parse(ex.stub_path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return f"# {ex.title}\n\nThe task text could not be read from {ex.stub_path}: {exc}."
    parts = [f"# {ex.title}", f"Exercise `{ex.id}`, d2l section {ex.d2l}, {ex.points} points. "
             f"Write it in `{ex.filename}` in your workspace."]
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
    parts.append("Keys: **e** your file, **g** grade, **h** a hint, **l** the lesson.")
    return "\n\n".join(parts)
