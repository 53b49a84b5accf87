"""One-line bars of the exercise view: its title, and the bar that folds the results and hints away (v).

Each shows the first of its texts that fits its width, so that a narrow terminal gets a shorter text instead of a
cut one (a double-width character is never cut in half: the texts are measured in cells)."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widget import Widget


def _as_text(text: str | Text) -> Text:
    out = Text(text) if isinstance(text, str) else text.copy()
    out.no_wrap, out.overflow = True, "ellipsis"
    return out


class OneLine(Widget):
    DEFAULT_CSS = "OneLine { width: 1fr; height: 1; }"

    @property
    def plain(self) -> str:
        """The text shown now (for the tests)."""
        return self.render().plain


class FitLabel(OneLine):
    """One line: the first of its texts that fits, else the last one, ending in an ellipsis."""

    def __init__(self, *texts: str | Text, **kwargs):
        super().__init__(**kwargs)
        self.texts = [_as_text(t) for t in texts] or [Text()]

    def show(self, *texts: str | Text) -> None:
        self.texts = [_as_text(t) for t in texts] or [Text()]
        self.refresh()

    def render(self) -> Text:
        width = self.size.width
        return next((t for t in self.texts if t.cell_len <= width), self.texts[-1])


class PanelBar(OneLine, can_focus=True):
    """The line between the editor and the results: the verdict in a few words, and the key that shows or hides
    the results and the hints. Escape in the editor comes here when the tree is not on screen; enter, space or a
    click toggle the panel."""

    BINDINGS = [Binding("enter,space", "app.toggle_results", show=False)]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.left, self.right = Text(), Text()

    def summarize(self, opened: bool, summary: Text, key_hint: str) -> None:
        left = Text.assemble("▾ " if opened else "▸ ", summary)
        right = Text(key_hint)
        self.left, self.right = left, right
        self.refresh()

    def render(self) -> Text:
        left, right = self.left, self.right
        gap = self.size.width - left.cell_len - right.cell_len
        line = Text.assemble(left, " " * gap, right) if gap >= 2 else left.copy()
        line.no_wrap, line.overflow = True, "ellipsis"
        return line

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.app.action_toggle_results()
