"""Access control for the dashboard.

With a token every request needs it: `Authorization: Bearer TOKEN` (scripts), or the HttpOnly
cookie a browser gets by opening any page once with `?token=TOKEN` (it is then redirected to
the same address without the token, so the token leaves the address bar and history).
Requests that change something and are not authenticated by the header must carry
`X-Requested-With: hypersweep`, which a cross-site form cannot send (CSRF).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

TOKEN_ENV = "HYPERSWEEP_UI_TOKEN"
COOKIE = "hypersweep_token"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "hypersweep"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenAuth:
    """Starlette HTTP middleware (`app.middleware("http")(TokenAuth(token))`)."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def _valid(self, supplied: str | None) -> bool:
        return bool(self.token and supplied) and secrets.compare_digest(
            supplied.encode(),
            self.token.encode(),  # type: ignore[union-attr]
        )

    async def __call__(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        if self.token is not None:
            if bearer is not None:
                if not self._valid(bearer):
                    return _unauthorized(request)
                return await call_next(request)  # a header cannot be forged cross-site
            query_token = request.query_params.get("token")
            if query_token is not None and request.method == "GET":
                if not self._valid(query_token):
                    return _unauthorized(request)
                return _login_redirect(request, self.token)
            if not self._valid(request.cookies.get(COOKIE)):
                return _unauthorized(request)
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
            return JSONResponse(
                {"detail": f"missing header {CSRF_HEADER}: {CSRF_VALUE}"}, status_code=403
            )
        return await call_next(request)


def _login_redirect(request: Request, token: str) -> Response:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    # Judged as received (Starlette's URL drops tabs and newlines) and as Starlette has it.
    received = request.scope.get("path", "")
    path = local_path(request.url.path) if local_path(received) == received else "/"
    target = URL(path).include_query_params(**dict(params))
    response = RedirectResponse(str(target), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def local_path(path: str) -> str:
    r"""`path` if a browser can only read it as a path on this server, else "/" (the login
    redirect must not be an open redirect). Refused: `//host` (scheme-relative), any
    backslash (browsers read `/\host` as `//host`), control characters (browsers drop tabs
    and newlines, so `/<TAB>/host` is `//host`), and anything not starting with `/`
    (`https://host`, `host`)."""
    # Starlette's request.url.path is partly re-encoded (a backslash arrives as %5C):
    # judged decoded as well, and anything doubtful is simply "/".
    for form in (path, unquote(path)):
        if (
            not form.startswith("/")
            or form.startswith("//")
            or "\\" in form
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in form)
        ):
            return "/"
    return path


def _unauthorized(request: Request) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"detail": "missing or wrong access token"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return PlainTextResponse(
        "401: this dashboard needs its access token: open the link `hypersweep ui` printed, "
        "or add ?token=TOKEN to the address.",
        status_code=401,
    )


_TOKEN_IN_URL = re.compile(r"(?i)([?&]token=)[^&\s\"]*")


class RedactTokens(logging.Filter):
    """Access-log lines carry the query string: blank out any `token=` value."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_URL.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", record.msg)
        return True
