"""The full-screen tutor (Textual). Imported only by `d2l-tutor tui`; it never imports torch."""
