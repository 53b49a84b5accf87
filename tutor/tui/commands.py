"""Command palette (ctrl+p): jump to any lesson or exercise of the course by typing part of its name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tutor.manifest import Exercise, Lesson


class CourseCommands(Provider):
    """One command per lesson ("lesson: ...") and per exercise ("exercise: ..."), in course order."""

    def _entries(self) -> list[tuple[str, str, Lesson | Exercise]]:
        entries = []
        for chapter in self.app.course.chapters:
            for lesson in chapter.lessons:
                entries.append((f"lesson: {lesson.title}", f"chapter {chapter.number}, d2l {lesson.d2l}", lesson))
                for ex in lesson.exercises:
                    entries.append((f"exercise: {ex.id} · {ex.title}", f"d2l {ex.d2l}, {ex.points} points", ex))
        return entries

    async def discover(self) -> Hits:
        for text, help_text, target in self._entries():
            yield DiscoveryHit(text, partial(self.app.jump_to, target), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, target in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.jump_to, target), text=text,
                          help=help_text)
