"""`d2l-tutor serve`: the full-screen tutor in a browser, through textual-serve.

Every browser tab that connects gets its own tutor process (`python -m tutor tui --workspace WS`), all on the
same workspace. Imported only by the `serve` command: textual-serve (aiohttp) is never loaded otherwise.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any, Optional

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_local(host: str) -> bool:
    """True for the loopback names this command binds without --public."""
    return host.strip().lower() in LOCAL_HOSTS


def tutor_command(workspace: Path, *, device: str = "auto", cold: bool = False) -> str:
    """The shell command textual-serve runs for each browser tab: this Python, this tutor, this workspace."""
    argv = [sys.executable, "-m", "tutor", "tui", "--workspace", str(workspace), "--device", device]
    if cold:
        argv.append("--cold")
    return shlex.join(argv)


def url_host(host: str) -> str:
    host = host.strip("[]")
    return f"[{host}]" if ":" in host else host


GOOGLE_FONTS = re.compile(r'\s*<link[^>]*fonts\.googleapis\.com[^>]*/>', re.S)


class TutorServer(Server):
    """textual-serve's Server with two changes to its page: its links (static files, the websocket) are made from
    the address the browser used (bound to 0.0.0.0, a public_url of http://0.0.0.0:8000 would send other machines'
    browsers to themselves), and it does not load a font from fonts.googleapis.com (the terminal starts only once
    the page has loaded: offline, or where Google is blocked, that wait took seconds; a local monospace font is
    used instead)."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        template = (Path(self.templates_path) / "app_index.html").read_text(encoding="utf-8")
        aiohttp_jinja2.setup(app, loader=jinja2.DictLoader({"app_index.html": GOOGLE_FONTS.sub("", template)}))
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        router = request.app.router
        base = f"{request.scheme}://{request.host}"
        ws_base = ("wss" if request.scheme == "https" else "ws") + base[len(request.scheme):]
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        static = f"{base}{router['static'].url_for(filename='/')}".rstrip("/") + "/"
        return {
            "font_size": font_size,
            "app_websocket_url": f"{ws_base}{router['websocket'].url_for()}",
            "config": {"static": {"url": static}},
            "application": {"name": self.title},
        }


def port_problem(host: str, port: int) -> Optional[str]:
    """Why `host`:`port` cannot be listened on (already in use, not an address of this machine), or None."""
    import socket

    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return str(exc.strerror or exc)
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def serve(workspace: Path, *, host: str, port: int, device: str = "auto", cold: bool = False,
          title: Optional[str] = None) -> None:
    """Serve until interrupted (ctrl+c or SIGTERM)."""
    server = TutorServer(tutor_command(workspace, device=device, cold=cold), host=host.strip("[]"), port=port,
                         title=title or "d2l-tutor",
                         public_url=f"http://{url_host(host)}:{port}")
    server.serve()
