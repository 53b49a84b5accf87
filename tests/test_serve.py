"""`d2l-tutor serve`: the real server, fetched over HTTP, then opened in a real headless Chromium.

The browser is driven through the Chrome DevTools protocol (over aiohttp's websocket client, which textual-serve
brings). textual-serve draws the terminal with xterm.js on a canvas, so there is no screen text in the DOM: the
test finds the page's xterm.js Terminal object on the heap (Runtime.queryObjects) and reads its screen buffer,
the very cells the canvas shows, until the course tree is there. A screenshot is kept as an artifact (in the
test's tmp folder, and copied to $D2L_TUTOR_ARTIFACTS when set).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixture_course"
TIMEOUT = 20.0

# Finds textual-serve's terminal object (the one holding the websocket URL and the xterm.js Terminal) among all
# objects on the page's heap and keeps its Terminal where later evaluations can read it.
FIND_TERMINAL = """function () {
  const w = this.find(o => o && typeof o === 'object' && o.websocket_url !== undefined && o.terminal
                           && o.terminal.buffer);
  if (!w) return false;
  window.__d2lTerminal = w.terminal;
  return true;
}"""
READ_SCREEN = """(() => {
  const t = window.__d2lTerminal, b = t.buffer.active, lines = [];
  for (let i = 0; i < t.rows; i++) { const l = b.getLine(b.viewportY + i); lines.push(l ? l.translateToString(true) : ''); }
  return lines.join('\\n');
})()"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def course_tree_shown(screen: str, exercises: list[str]) -> bool:
    return all(re.search(rf"(?m)[└├]── · {re.escape(ex)}\b", screen) for ex in exercises) and "points" in screen


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "D2L_TUTOR_COURSE": str(FIXTURE), "D2L_TUTOR_LANG": "en",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-m", "tutor", "init", str(tmp_path / "ws")], env=env, check=True,
                   capture_output=True, timeout=30)
    return env


@pytest.fixture
def server(tmp_path: Path, env: dict[str, str]):
    """`d2l-tutor serve` on a free port, in its own process group (it and every tab's tutor are killed after)."""
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tutor", "serve", "--port", str(port), "-w", str(tmp_path / "ws")],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        page = None
        while time.monotonic() - started < TIMEOUT:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}:\n{(tmp_path / 'serve.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.status == 200
                    page = response.read().decode("utf-8")
                    break
            except OSError:
                time.sleep(0.05)
        assert page is not None, f"no page within {TIMEOUT} s:\n{(tmp_path / 'serve.log').read_text()}"
        yield url, page, time.monotonic() - started
    finally:
        kill_group(proc)
        log.close()


def test_the_page_is_textual_serves(server) -> None:
    url, page, first_page = server
    assert "textual-terminal" in page and "/static/js/textual.js" in page
    assert f'data-session-websocket-url="ws://{url[len("http://"):]}ws"' in page  # from the address asked
    assert "fonts.googleapis.com" not in page  # the terminal would wait for it to load (or time out)
    print(f"serve to the first page: {first_page:.2f} s")


def test_a_non_local_host_needs_public(env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tutor", "serve", "--host", "0.0.0.0", "-w", str(tmp_path / "ws")],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--public" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_a_one_line_error(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "tutor", "serve", "--port", str(port), "-w", str(tmp_path / "ws")],
                              env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "bug in d2l-tutor" not in done.stderr


class DevTools:
    """The smallest Chrome DevTools protocol client: one page, calls answered in order."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    async def evaluate(self, expression: str):
        return (await self.call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")

    async def find_terminal(self) -> bool:
        proto = await self.call("Runtime.evaluate", expression="Object.prototype")
        objects = await self.call("Runtime.queryObjects", prototypeObjectId=proto["result"]["objectId"])
        found = await self.call("Runtime.callFunctionOn", objectId=objects["objects"]["objectId"],
                                functionDeclaration=FIND_TERMINAL, returnByValue=True)
        await self.call("Runtime.releaseObject", objectId=objects["objects"]["objectId"])
        return bool(found["result"].get("value"))


async def open_in_browser(browser: str, url: str, profile: Path, shot: Path, exercises: list[str]) -> tuple[str, float]:
    import aiohttp

    proc = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,800",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        devtools_url = None
        deadline = time.monotonic() + TIMEOUT
        for line in proc.stderr:  # Chromium says where its DevTools endpoint is on stderr
            if m := re.search(r"DevTools listening on (ws://\S+)", line):
                devtools_url = m.group(1)
                break
            if time.monotonic() > deadline:
                break
        assert devtools_url, "Chromium did not start its DevTools endpoint"
        port = re.search(r":(\d+)/", devtools_url).group(1)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                page = next(t for t in await response.json() if t["type"] == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = DevTools(ws)
                await cdp.call("Page.enable")
                started = time.monotonic()
                await cdp.call("Page.navigate", url=url)
                screen, found = "", False
                while time.monotonic() < deadline:
                    found = found or await cdp.find_terminal()
                    if found:
                        screen = await cdp.evaluate(READ_SCREEN) or ""
                        if course_tree_shown(screen, exercises):
                            break
                    await asyncio.sleep(0.1)
                shown = time.monotonic() - started
                await asyncio.sleep(0.3)  # the canvas paints on the next animation frames
                data = await cdp.call("Page.captureScreenshot", format="png")
                shot.write_bytes(base64.b64decode(data["data"]))
                return screen, shown
    finally:
        kill_group(proc)


def test_the_course_tree_in_a_browser(server, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("no Chromium found (chromium, chromium-browser or google-chrome): `apt-get install chromium`")
    from tutor.manifest import load_course

    url, _page, _first = server
    exercises = [ex.id for ex in load_course(FIXTURE).exercises]
    shot = tmp_path / "serve-browser.png"
    screen, shown = asyncio.run(open_in_browser(browser, url, tmp_path / "profile", shot, exercises))
    if artifacts := os.environ.get("D2L_TUTOR_ARTIFACTS"):
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    assert course_tree_shown(screen, exercises), f"the course tree never appeared; the screen was:\n{screen}"
    assert "0/" in screen and "done" in screen  # the progress line under the tree: this workspace, no score yet
    assert shot.stat().st_size > 10_000, "the screenshot is empty"
    print(f"page to the course tree in Chromium: {shown:.2f} s; screenshot: {shot}")


def test_serve_help_imports_no_server_torch_or_textual(env: dict[str, str]) -> None:
    code = ("import sys; sys.argv = ['d2l-tutor', 'serve', '--help']\n"
            "from tutor.launch import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'textual', 'textual_serve', 'aiohttp'))\n"
            "print('IMPORTED', bad)\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert "--public" in done.stdout
    assert "IMPORTED []" in done.stdout, done.stdout[-500:]
