"""`hypersweep secret add|ls|rm`: the user's stored secrets. Values are read from a file,
an environment variable or stdin, never from the command line, and never printed."""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..credentials import SecretError, SecretStore, read_private_file
from ..credentials.secrets import check_value
from . import render

app = typer.Typer(
    help="Store secrets (API keys, passwords) for sweeps' `env:` and the dashboard token.",
    no_args_is_help=True,
)
console = Console()


def _read_value(name: str, source: str | None, from_env: str | None) -> tuple[str, str]:
    """(value, where it came from)."""
    if source is not None and from_env is not None:
        raise SecretError("give @FILE or --from-env VAR, not both")
    if source is not None:
        if not source.startswith("@") or len(source) == 1:
            raise SecretError(
                "give the value as @FILE, --from-env VAR or on stdin: a value on the "
                "command line is visible to other users in `ps` and kept in shell history"
            )
        path = Path(source[1:]).expanduser()
        return read_private_file(path), str(path)
    if from_env is not None:
        if from_env not in os.environ:
            raise SecretError(f"environment variable {from_env} is not set")
        return check_value(os.environ[from_env], f"environment variable {from_env}"), (
            f"environment variable {from_env}"
        )
    if sys.stdin.isatty():
        value = typer.prompt(f"value of secret {name}", hide_input=True)
        return check_value(value, "the value typed"), "the terminal"
    return check_value(sys.stdin.read().rstrip("\r\n"), "stdin"), "stdin"


@app.command("add")
def add(
    name: str,
    source: Annotated[
        str | None,  # noqa: UP007
        typer.Argument(metavar="@FILE", help="Read the value from FILE (mode 0600)."),
    ] = None,
    from_env: Annotated[
        str | None,  # noqa: UP007
        typer.Option("--from-env", metavar="VAR", help="Read the value from this variable."),
    ] = None,
) -> None:
    """Store a secret (replacing one of that name). Without @FILE or --from-env the value is
    read from stdin, or asked for without echo in a terminal."""
    store = SecretStore()
    store.path(name)  # a bad name fails before a value is asked for
    value, origin = _read_value(name, source, from_env)
    replaced = store.exists(name)
    path = store.add(name, value)
    console.print(
        f"{'replaced' if replaced else 'stored'} secret {name} from {origin} in {path} (0600); "
        f"use it in a sweep as env: {{VAR: secret:{name}}}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("ls")
def ls(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Names and dates of the stored secrets (never their values)."""
    store = SecretStore()
    found = store.list()
    if as_json:
        render.print_json(
            [{"name": s.name, "path": str(s.path), "modified_at": s.modified} for s in found]
        )
        return
    if not found:
        console.print(f"no secrets in {store.directory}", highlight=False)
        return
    table = Table(title=f"secrets in {store.directory}", title_justify="left")
    table.add_column("name")
    table.add_column("modified")
    for s in found:
        when = datetime.datetime.fromtimestamp(s.modified).strftime("%Y-%m-%d %H:%M")
        table.add_row(s.name, when)
    console.print(table)


@app.command("rm")
def rm(name: str) -> None:
    """Delete a stored secret."""
    SecretStore().remove(name)
    console.print(f"removed secret {name}", highlight=False)
