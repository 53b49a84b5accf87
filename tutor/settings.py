"""What a workspace remembers about its learner: the language and the book numbering (.d2l-tutor/settings.toml).

Read with tomllib, written atomically (a temporary file, then a rename), never fatal: a missing or unreadable
file means the defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"lang": ("en", "zh"), "book": ("course", "zh", "en")}


def path_for(state_dir: Path) -> Path:
    return Path(state_dir) / "settings.toml"


def load(state_dir: Path | None) -> dict:
    if state_dir is None:
        return {}
    try:
        with open(path_for(state_dir), "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {k: v for k, v in data.items() if k in KEYS and v in KEYS[k]}


def save(state_dir: Path, **values) -> None:
    """Remember `values` (e.g. lang="zh") next to what is already remembered."""
    data = load(state_dir)
    for key, value in values.items():
        if key not in KEYS or value not in KEYS[key]:
            raise ValueError(f"{key} must be one of {', '.join(KEYS.get(key, ()))}, not {value!r}")
        data[key] = value
    target = path_for(state_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("".join(f'{k} = "{v}"\n' for k, v in sorted(data.items())), encoding="utf-8")
    os.replace(tmp, target)
