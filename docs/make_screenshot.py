"""Make docs/tui.svg, the README's screenshot (run: python docs/make_screenshot.py).

A real session, headless: a fresh workspace whose corr2d flips the kernel (convolution instead of
cross-correlation, the classic mistake), one hint revealed, graded with the real engine on the CPU; the app's SVG
export is the picture.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

async def main() -> None:
    from tests.test_tui_snapshots import FLIPPED  # the same mistake as the snapshot tests show
    from tutor.manifest import load_course
    from tutor.progress import Progress
    from tutor.tui.app import TutorApp
    from tutor.workspace import Workspace, init_workspace

    course = load_course()
    ex = course.exercise("corr2d")
    root = Path(tempfile.mkdtemp(prefix="d2l-shot-")) / "d2l-workspace"
    init_workspace(root, course)
    (root / ex.filename).write_text(FLIPPED, encoding="utf-8")
    with Progress(Workspace(root).db_path) as progress:
        progress.reveal_hint(ex.id, len(ex.hints))
    app = TutorApp(Workspace(root), device="cpu", warm=False, start=ex)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("escape", "g")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        app.sub_title = "~/d2l-workspace"
        app.query_one("#exercise-title").update(f"{ex.id} · {ex.title} (d2l {ex.d2l}) · ~/d2l-workspace/corr2d.py")
        await pilot.pause()
        app.save_screenshot(filename="tui.svg", path=str(HERE))
    print(HERE / "tui.svg")


if __name__ == "__main__":
    asyncio.run(main())
