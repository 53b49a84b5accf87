"""Command palette (ctrl+p): jump to any lesson or exercise by part of its name or by its section number in any
of the three numberings (course, d2l-zh, d2l-en); switch the language."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tutor.i18n import _, get_lang


class CourseCommands(Provider):
    """One command per lesson and per exercise, in course order, and one per language."""

    def _entries(self) -> list[tuple[str, str, object]]:
        lang = get_lang()
        numbers = (lambda item: f"course {item.section('course')} · d2l-zh {item.section('zh')} · "
                                f"d2l-en {item.section('en')}")
        entries = []
        for chapter in self.app.course.chapters:
            for lesson in chapter.lessons:
                entries.append((_("lesson: {title}").format(title=lesson.title_in(lang)),
                                numbers(lesson), partial(self.app.jump_to, lesson)))
                for ex in lesson.exercises:
                    entries.append((_("exercise: {id} · {title}").format(id=ex.id, title=ex.title_in(lang)),
                                    numbers(ex) + " · " + _("{n} points").format(n=ex.points),
                                    partial(self.app.jump_to, ex)))
        entries.append(("Language: English", "English", partial(self.app.set_language, "en")))
        entries.append(("语言：中文", "中文 (Chinese)", partial(self.app.set_language, "zh")))
        return entries

    async def discover(self) -> Hits:
        for text, help_text, action in self._entries():
            yield DiscoveryHit(text, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action in self._entries():
            score = max(matcher.match(text), matcher.match(help_text) * 0.9)  # a section number matches the help
            if score > 0:
                yield Hit(score, matcher.highlight(text), action, text=text, help=help_text)
