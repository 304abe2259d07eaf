"""`dlgrade review OUT`: the review app served on 127.0.0.1, on a free port unless one is given, behind
a fresh token; the link is printed (and opened in the browser unless asked not to), then the app runs
until Ctrl-C. Werkzeug's threaded server: one request per thread, decisions in their own transactions."""
from __future__ import annotations

import socket
import webbrowser
from collections.abc import Callable
from pathlib import Path

from werkzeug.serving import make_server

from grader.core.errors import ToolkitError
from grader.review.app import create_app
from grader.review.folder import GradingFolder
from grader.review.security import Access

LOOPBACK = "127.0.0.1"   # never another interface: the token is the only other guard


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def serve_review(*, out: Path, port: int | None = None, open_browser: bool = True,
                 assignment: str | Path | None = None, reviewer: str | None = None,
                 on_ready: Callable[[str], None] = print) -> None:
    """Serve the review of the grading folder `out` until interrupted (KeyboardInterrupt propagates).

    port: None picks a free one; assignment: the assignment's name or folder when the one the results
    name is not found by name (a fixture, a moved folder); reviewer: the name decisions record (default:
    the login name). on_ready gets the link with its token. Raises ToolkitError when `out` holds no
    gradebook or the port is taken."""
    folder = GradingFolder(out, assignment=assignment)
    port = port or free_port()
    access = Access.new(f"{LOOPBACK}:{port}")
    app = create_app(folder, access, reviewer=reviewer)
    try:
        server = make_server(LOOPBACK, port, app, threaded=True)
    except OSError as e:
        raise ToolkitError(f"cannot listen on {LOOPBACK}:{port} ({e.strerror}); give another --port or none") from None
    on_ready(access.link())
    if open_browser:
        webbrowser.open(access.link())
    try:
        server.serve_forever()
    finally:
        server.server_close()
