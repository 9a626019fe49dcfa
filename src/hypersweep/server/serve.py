"""Serving the app with uvicorn: in the foreground (`hypersweep ui`) or on a background thread
of `hypersweep run`. We bind the socket ourselves so a taken port can fall back to the next
free one before anything is printed."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

import uvicorn

from ..store import Store
from .app import create_app
from .auth import RedactTokens, is_loopback

PORT_TRIES = 20


class ServeError(Exception):
    """A user-facing failure to serve (bad host, no free port): one line."""


@dataclass
class Bound:
    sock: socket.socket
    host: str
    port: int
    requested_port: int

    @property
    def moved(self) -> bool:
        return self.requested_port != 0 and self.port != self.requested_port

    def url(self, path: str = "/") -> str:
        # Bound to every interface: the machine's name is what others can reach.
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}{path}"


def bind(host: str, port: int, tries: int = PORT_TRIES) -> Bound:
    """Listen on host:port, else on the next free port (up to `tries`)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host!r}: {exc.strerror}") from None
    family = infos[0][0]
    for candidate in range(port, port + tries):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and port != 0:
                continue
            raise ServeError(f"cannot listen on {host}:{candidate}: {exc.strerror}") from None
        sock.listen(2048)
        sock.setblocking(False)
        return Bound(sock, host, sock.getsockname()[1], port)
    raise ServeError(f"ports {port}-{port + tries - 1} on {host} are all taken (use --port)")


def make_server(
    store: Store, bound: Bound, token: str | None, *, quiet: bool, app: Any = None
) -> uvicorn.Server:
    """`app`: another ASGI app to serve instead of the dashboard (benchmark peers)."""
    if app is None:
        app = create_app(store=store, token=token, loopback_only=is_loopback(bound.host))
    config = uvicorn.Config(
        app,
        log_level="warning" if quiet else "info",
        access_log=not quiet,
        lifespan="off",
    )
    # After Config (which installs uvicorn's logging): the access log carries query strings.
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())
    return uvicorn.Server(config)


def serve_forever(store: Store, bound: Bound, token: str | None) -> None:
    make_server(store, bound, token, quiet=False).run(sockets=[bound.sock])


class BackgroundServer:
    """The dashboard on a daemon thread of this process (`hypersweep run`)."""

    def __init__(self, store: Store, bound: Bound, app: Any = None) -> None:
        self.bound = bound
        self.server = make_server(store, bound, None, quiet=True, app=app)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [bound.sock]}, daemon=True, name="ui"
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
