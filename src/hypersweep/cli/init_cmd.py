"""`hypersweep init [DIR]`: ask three questions (each also a flag), write a working project."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..scaffold import (
    DEFAULT_CODE_DIR,
    DEFAULT_NAME,
    Answers,
    ScaffoldError,
    check_code_dir,
    check_name,
    check_slug,
    check_target,
    derive_slug,
    write_project,
)

console = Console()


def _ask(
    question: str, default: str, check: Callable[[str], str], given: str | None, yes: bool
) -> str:
    """A flag wins; else --yes takes the default; else prompt (Enter accepts the default)
    and ask again after a bad answer."""
    if given is not None:
        return check(given)
    if yes:
        return check(default)
    if not sys.stdin.isatty():
        raise ScaffoldError(
            "no terminal to ask in: add --yes for the defaults, or give --name, --slug and "
            "--code-dir"
        )

    def proc(value: str) -> str:
        try:
            return check(value)
        except ScaffoldError as exc:
            raise typer.BadParameter(str(exc)) from None  # asked again

    return typer.prompt(question, default=default, value_proc=proc)


def init(
    directory: Annotated[
        Path,
        typer.Argument(help="Where to create the project [default: here].", show_default=False),
    ] = Path("."),
    name: Annotated[
        str | None,  # noqa: UP007
        typer.Option(help=f"Project name [default: {DEFAULT_NAME}]."),
    ] = None,
    slug: Annotated[
        str | None,  # noqa: UP007
        typer.Option(help="Project slug: sweep name and project [default: from the name]."),
    ] = None,
    code_dir: Annotated[
        str | None,  # noqa: UP007
        typer.Option(help=f"Directory of train.py [default: {DEFAULT_CODE_DIR}]."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Accept the defaults without asking.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory.")
    ] = False,
    wandb: Annotated[
        bool,
        typer.Option(
            "--wandb",
            help="W&B recipe layout: train.py logs with the wandb package, wandb-sweep.yaml, "
            "a Makefile with hypertrain (N_JOBS), ps and kill-hypertrain-all.",
        ),
    ] = False,
) -> None:
    """Start a project: train.py, sweep.yaml, README and .gitignore, ready to run."""
    check_target(directory, force)  # before any question: do not ask, then refuse
    for given, check in ((name, check_name), (slug, check_slug), (code_dir, check_code_dir)):
        if given is not None:
            check(given)  # a bad flag fails at once, not after the other questions
    project_name = _ask("Project name", DEFAULT_NAME, check_name, name, yes)
    project_slug = _ask(
        "Project slug", derive_slug(project_name) or "project", check_slug, slug, yes
    )
    code = _ask("Code directory", DEFAULT_CODE_DIR, check_code_dir, code_dir, yes)
    answers = Answers(project_name, project_slug, code)
    written = write_project(directory, answers, force=force, wandb=wandb)
    console.print(f"created project {project_name!r} in {directory}:", highlight=False)
    for path in written:
        console.print(f"  {path.relative_to(directory)}", highlight=False)
    here = "" if directory.resolve() == Path.cwd() else f"cd {shlex.quote(str(directory))} && "
    start = "make hypertrain N_JOBS=3" if wandb else "hypersweep run sweep.yaml --jobs 2"
    console.print(f"next: {here}{start}", highlight=False)
