"""`hypersweep auth check`: which credentials will be used and from where, never their values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import sweeps as sweep_ops
from ..credentials.sources import (
    Credential,
    secrets_credential,
    store_credential,
    sweep_credentials,
    ui_token,
)
from ..store import STORE_ENV, default_store_url
from . import render

app = typer.Typer(help="Credentials: where each one comes from.", no_args_is_help=True)
console = Console()


def _store_origin(ctx: typer.Context) -> tuple[str, str]:
    url = ctx.find_root().params.get("store")
    if url and os.environ.get(STORE_ENV) == url:
        return url, f"from {STORE_ENV}"
    if url:
        return url, "from --store"
    return default_store_url(), "the default"


@app.command("check")
def check(
    ctx: typer.Context,
    sweep_file: Annotated[
        Path | None,  # noqa: UP007
        typer.Option("--sweep", help="Also check the secrets this sweep file's env: uses."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Say which credentials will be used and from where (file, environment variable).
    Exits 1 when one of them cannot be used."""
    url, origin = _store_origin(ctx)
    found: list[Credential] = [
        store_credential(url, origin),
        ui_token()[1],
        secrets_credential(),
    ]
    if sweep_file is not None:
        config = sweep_ops.load_runnable_config(sweep_file, check_secrets=False)
        uses = sweep_credentials(config.env, config.command or ())
        found += uses or [Credential(f"{sweep_file}", "uses no secret")]
    if as_json:
        render.print_json([c.as_dict() for c in found])
    else:
        for c in found:
            mark = "[green]ok[/green]  " if c.ok else "[red]bad[/red] "
            console.print(f"{mark}{c.what}: {c.source}", highlight=False, soft_wrap=True)
    if not all(c.ok for c in found):
        raise typer.Exit(1)
