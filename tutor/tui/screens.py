"""Modal screens of the TUI: a yes/no question, quitting with unsaved edits, and creating a workspace."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tutor.i18n import _


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y answers True; n or escape answer False."""

    CSS_PATH = "screens.tcss"
    BINDINGS = [Binding("y", "answer(True)", _("Yes")), Binding("n,escape", "answer(False)", _("No"))]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Label(self.question, id="confirm-question")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class QuitScreen(ModalScreen[str]):
    """Quitting with unsaved edits: save and quit ("save"), quit without saving ("discard"), or stay ("stay")."""

    CSS_PATH = "screens.tcss"
    BINDINGS = [Binding("s,y", "answer('save')", _("Save and quit")),
                Binding("d", "answer('discard')", _("Quit without saving")),
                Binding("escape,n", "answer('stay')", _("Stay"))]

    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename

    def compose(self) -> ComposeResult:
        with Vertical(id="quit", classes="dialog"):
            yield Label(_("{file} has unsaved edits.").format(file=self.filename), id="quit-question", markup=False)
            yield Label(_("[b]s[/b] save and quit   [b]d[/b] quit without saving   [b]escape[/b] stay"), id="quit-keys")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class SetupScreen(ModalScreen[bool]):
    """No workspace was found: offer to create one at a named folder (y), or quit (n, q, escape)."""

    CSS_PATH = "screens.tcss"
    BINDINGS = [Binding("y,enter", "answer(True)", _("Create it")), Binding("n,q,escape", "answer(False)", _("Quit"))]

    def __init__(self, searched: Path, proposed: Path):
        super().__init__()
        self.searched, self.proposed = searched, proposed

    def compose(self) -> ComposeResult:
        with Vertical(id="setup", classes="dialog"):
            yield Label(_("Welcome to d2l-tutor"), id="setup-title")
            yield Static(_("There is no d2l-tutor workspace in {searched} or any folder above it.\nA workspace is a "
                           "folder with one Python file per exercise (yours to edit) and your progress.\n\nCreate "
                           "one at {proposed}?").format(searched=self.searched, proposed=self.proposed),
                         id="setup-question", markup=False)
            yield Static(_("[b]y[/b] create it   [b]n[/b] quit (or run `d2l-tutor init DIR` yourself)"), id="setup-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
