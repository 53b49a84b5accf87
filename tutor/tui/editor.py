"""The exercise editor: Python with syntax highlighting, where letters type and escape leaves the editor.

It indents as a Python editor does: enter keeps the line's indentation (one level more after a colon), and
backspace in the leading spaces goes back one level (4 columns). Lines are not wrapped: a line wider than the
editor scrolls it sideways while the cursor is on it, and the view goes back to column 0 as soon as the cursor is
on a column that fits (TextArea would only scroll as far as the cursor, leaving every short line cut on the
left)."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.geometry import Offset, Region, Spacing
from textual.widgets import TextArea

from tutor.i18n import _


INDENT = 4
CURSOR_MARGIN = 3  # cells kept visible right of the cursor (as TextArea.scroll_cursor_visible does)


def reported_text(event: events.Key) -> str | None:
    """The text of a key that a terminal reported without its text. With the kitty keyboard protocol (which
    Textual asks for) a terminal that does not send a key's "associated text" reports shift+y for Y and space
    with no character: TextArea would drop both."""
    if event.character is not None:
        return None
    if event.key == "space":
        return " "
    name = event.key.removeprefix("shift+")
    if event.key.startswith("shift+") and len(name) == 1 and "a" <= name <= "z":
        return name.upper()
    return None


class CodeEditor(TextArea):
    """The exercise editor. Letters type; escape leaves the editor (to the course tree, or to the bar under the
    editor when the tree is not on screen), where letters are commands.

    Only ctrl+ keys reach the app while typing: ctrl+s saves, ctrl+g grades, ctrl+r shows or hides the results
    under the editor, ctrl+p opens the command palette.
    """

    BINDINGS = [
        Binding("escape", "leave", _("Leave editor")),  # _on_key takes escape first; this shows it in the footer
        Binding("ctrl+s", "app.save", _("Save")),  # TutorApp.relabel_bindings translates them again
        Binding("ctrl+g", "app.grade", _("Grade")),
        Binding("ctrl+r", "app.toggle_results", _("Show/hide the results")),  # v, where letters are commands
    ]

    sideways = False  # a sideways scroll was asked for and may still be waiting for a refresh

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
        text = None if self.read_only else reported_text(event)
        if text is not None:
            event.stop()
            event.prevent_default()
            self._replace_via_keyboard(text, *self.selection)
            return
        await super()._on_key(event)

    def scroll_cursor_visible(self, center: bool = False, animate: bool = False) -> Offset:
        """Scroll so that the cursor is visible; sideways only when its column does not fit, else back to 0."""
        if not self._has_cursor or self.soft_wrap:
            return super().scroll_cursor_visible(center, animate)
        self._recompute_cursor_offset()
        x, y = self._cursor_offset
        if x + CURSOR_MARGIN > self.scrollable_content_region.width - self.gutter_width:
            self.sideways = True
            return super().scroll_cursor_visible(center, animate)
        offset = self.scroll_to_region(Region(x, y, width=CURSOR_MARGIN, height=1),
                                       spacing=Spacing(right=self.gutter_width), animate=animate, force=True,
                                       center=center, x_axis=False)
        if self.scroll_x or self.sideways:
            # Deferred, as the scrolls above are: it lands after any of them still waiting for a refresh.
            self.scroll_to(x=0, animate=False, force=True)
            self.sideways = False
        return offset

    def action_delete_left(self) -> None:
        """Backspace: in a line's leading spaces, back to the previous indentation level; elsewhere one character."""
        row, col = self.cursor_location
        if not self.read_only and self.selection.is_empty and col > 0:
            if self.document.get_line(row)[:col].strip(" ") == "":
                self._delete_via_keyboard((row, col - ((col - 1) % INDENT + 1)), (row, col))
                return
        super().action_delete_left()

    def action_leave(self) -> None:
        self.app.leave_editor()
