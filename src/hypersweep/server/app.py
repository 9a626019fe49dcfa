"""The dashboard's web application: the JSON API and the static pages that use it."""

from __future__ import annotations

from pathlib import Path
from string import Template

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..store import NotFound, Store, StoreError
from .auth import LOOPBACK_NAMES, TokenAuth
from .routes import router
from .views import ImportanceCache

STATIC = Path(__file__).parent / "static"
PAGES_DIR = Path(__file__).parent / "pages"
# route -> (page name: its title, its body in pages/NAME.html, its script static/NAME.js)
PAGES = {"/": "sweeps", "/sweeps/{sweep_id}": "sweep", "/runs/{run_id}": "run"}


def create_app(
    store_url: str | None = None,
    token: str | None = None,
    *,
    store: Store | None = None,
    loopback_only: bool = False,
) -> FastAPI:
    """The app over one store. `token`: required on every request when set.
    `loopback_only`: refuse requests whose Host is not a loopback name, so a web page
    cannot reach a token-less local dashboard through DNS rebinding."""
    app = FastAPI(
        title="hypersweep",
        summary="Sweeps, runs and metrics of a hypersweep store; actions on them.",
        version="1",
    )
    app.state.store = store or Store(store_url)
    app.state.importance = ImportanceCache()

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        # A value of the request the database cannot take (PostgreSQL: a NUL character in
        # an id, a search or a metric name; a number past its range): the request's fault.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return JSONResponse({"detail": f"invalid value in the request: {reason}"}, 422)

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for path, page in PAGES.items():
        app.add_api_route(path, _page(page), include_in_schema=False)

    # Added last = outermost: hosts are checked before tokens.
    app.middleware("http")(TokenAuth(token))
    if loopback_only and token is None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_NAMES))
    return app


def _page(name: str):  # type: ignore[no-untyped-def]
    """One page: the shared shell (head, scripts, header, banners) around its own body.
    Only our own files go in; the data arrives later through the JSON API."""
    shell = Template((PAGES_DIR / "shell.html").read_text())
    html = shell.substitute(
        title=name, script=f"{name}.js", body=(PAGES_DIR / f"{name}.html").read_text().rstrip()
    )

    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    page.__name__ = f"{name}_page"
    return page
