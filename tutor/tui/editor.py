"""The exercise editor: Python with syntax highlighting, where letters type and escape goes back to the tree.

It indents as a Python editor does: enter keeps the line's indentation (one level more after a colon), and
backspace in the leading spaces goes back one level (4 columns)."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import TextArea


INDENT = 4


class CodeEditor(TextArea):
    """The exercise editor. Letters type; escape leaves the editor (to the course tree), where letters are commands.

    Only ctrl+ keys reach the app while typing: ctrl+s saves, ctrl+g grades, ctrl+p opens the command palette.
    """

    BINDINGS = [
        Binding("escape", "leave", "Leave editor"),  # _on_key below takes escape first; this shows it in the footer
        Binding("ctrl+s", "app.save", "Save"),
        Binding("ctrl+g", "app.grade", "Grade"),
    ]

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "escape":  # not TextArea's focus_next, which lands on whatever widget comes next
            event.stop()
            event.prevent_default()  # also skips the base class's handler
            self.action_leave()
            return
        if event.key == "enter" and not self.read_only:
            event.stop()
            event.prevent_default()
            start, end = sorted(self.selection)
            before = self.document.get_line(start[0])[:start[1]]
            indent = before[:len(before) - len(before.lstrip(" "))]
            if before.rstrip().endswith(":"):
                indent += " " * INDENT
            self._replace_via_keyboard("\n" + indent, start, end)
            return
        await super()._on_key(event)

    def action_delete_left(self) -> None:
        """Backspace: in a line's leading spaces, back to the previous indentation level; elsewhere one character."""
        row, col = self.cursor_location
        if not self.read_only and self.selection.is_empty and col > 0:
            if self.document.get_line(row)[:col].strip(" ") == "":
                self._delete_via_keyboard((row, col - ((col - 1) % INDENT + 1)), (row, col))
                return
        super().action_delete_left()

    def action_leave(self) -> None:
        self.app.query_one("#course").focus()
