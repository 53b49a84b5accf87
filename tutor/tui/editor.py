"""The exercise editor: Python with syntax highlighting, where letters type and escape goes back to the tree."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import TextArea


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
        await super()._on_key(event)

    def action_leave(self) -> None:
        self.app.query_one("#course").focus()
