"""A static look at the learner's source for forbidden APIs (runs in the verifier; never executes the file).

The runtime guard lives in the learner's own process, so a determined file can get around it. This scan is a
second, independent signal: it reads the source with `ast` and reports every reference to a forbidden API
through torch (under any import alias), torch.ops.aten, `getattr(torch_thing, "name")`, and any use of
`__wrapped__` (the usual way to reach the function behind a wrapper). It cannot see names built at run time
(`getattr(F, "conv" + "2d")`); the README says so.
"""

from __future__ import annotations

import ast


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def scan(source: str, forbidden) -> list[tuple[str, int]]:
    """[(api, line)] for every reference to a forbidden API in `source`; [] when it does not parse."""
    forbidden = list(forbidden)
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names = {api.rsplit(".", 1)[-1]: api for api in forbidden}
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "torch":
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    found: set[tuple[str, int]] = set()

    def hit(dotted: str, line: int) -> None:
        last = dotted.rsplit(".", 1)[-1]
        if dotted in forbidden:
            found.add((dotted, line))
        elif last in names and dotted.startswith("torch"):
            found.add((names[last], line))

    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for a in node.names:
                hit(f"{node.module}.{a.name}", line)
        elif isinstance(node, ast.Attribute):
            if node.attr == "__wrapped__":
                found.add(("__wrapped__", line))
            dotted = _dotted(node, aliases)
            if dotted:
                hit(dotted, line)
        elif isinstance(node, ast.Name) and node.id in aliases and isinstance(node.ctx, ast.Load):
            hit(aliases[node.id], line)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str):
            if node.args[1].value == "__wrapped__":
                found.add(("__wrapped__", line))
            base = _dotted(node.args[0], aliases) if not isinstance(node.args[0], ast.Name) else aliases.get(
                node.args[0].id)
            if base:
                hit(f"{base}.{node.args[1].value}", line)
    return sorted(found, key=lambda f: (f[1], f[0]))
