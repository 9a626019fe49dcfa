"""`hypersweep init`: answers -> a project directory with train.py, sweep.yaml, a README and
a .gitignore (with --wandb: a wandb-logging train.py, wandb-sweep.yaml and a Makefile),
rendered from the templates in `templates/project/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from string import Template

DEFAULT_NAME = "My Project"
DEFAULT_CODE_DIR = "modules"
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ScaffoldError(Exception):
    """A bad answer or an unusable target directory. str() is one line."""


@dataclass(frozen=True)
class Answers:
    name: str
    slug: str
    code_dir: str

    @property
    def program(self) -> str:
        return str(PurePosixPath(self.code_dir) / "train.py")


def derive_slug(name: str) -> str:
    """'My Project' -> 'my-project': lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or "\n" in name or len(name) > 100:
        raise ScaffoldError(f"project name {name!r}: give one line of 1-100 characters")
    return name


def check_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ScaffoldError(
            f"project slug {slug!r}: use lower-case letters, digits and '-' (1-64, not "
            "starting or ending with '-'), e.g. my-project"
        )
    return slug


def check_code_dir(code_dir: str) -> str:
    """A relative path inside the project, e.g. `modules` or `src/train`."""
    path = PurePosixPath(code_dir.strip())
    if code_dir.strip() in ("", "."):
        return "."
    if path.is_absolute() or not all(_PATH_PART.match(part) for part in path.parts):
        raise ScaffoldError(
            f"code directory {code_dir!r}: give a relative path inside the project made of "
            "letters, digits, '_', '.' and '-' (no '..'), e.g. modules"
        )
    return str(path)


def check_target(directory: Path, force: bool) -> None:
    """Refuse a non-empty directory (or a file) unless forced: init must not clobber work."""
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ScaffoldError(
            f"{directory} is not empty: choose a new directory, or add --force to write the "
            "project files into it (files of the same name are replaced)"
        )


# template file -> path in the project ({program} is the code directory's train.py,
# {sweep_file} the sweep file's name)
_FILES = {
    "train.py.tmpl": "{program}",
    "sweep.yaml.tmpl": "{sweep_file}",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
}
# The --wandb variant: the W&B recipe's layout, a train.py that logs with the wandb package
# exactly as W&B's docs show, and its make targets.
_WANDB_FILES = {**_FILES, "Makefile.tmpl": "Makefile"}


def _variant_values(wandb: bool, sweep_file: str) -> dict[str, str]:
    """What differs between the plain and the W&B project: how train.py logs, and the
    commands the README shows."""
    run_command = f"hypersweep run {sweep_file} --jobs 2"
    if not wandb:
        return {
            "logger": "hypersweep",
            "init_call": "hypersweep.init(config=vars(args))",
            "log_call": 'run.log({"accuracy": accuracy, "loss": loss}, step=epoch)',
            "logged_with": "with `hypersweep.init()` and `run.log()`",
            "extra_ignores": "",
            "run_command": run_command,
            "commands": "\n".join(
                (
                    f"hypersweep validate {sweep_file}        # explain the search space",
                    f"{run_command}    # run the sweep: live progress, then the best run",
                    "hypersweep best SWEEP_ID              # the winning hyperparameters again",
                    "hypersweep ui                         # the dashboard over every sweep here",
                )
            ),
        }
    return {
        "logger": "wandb",
        "init_call": "wandb.init(config=vars(args))",
        "log_call": 'wandb.log({"accuracy": accuracy, "loss": loss})',
        "logged_with": "with `wandb.init()` and `wandb.log()`, unchanged W&B code (without an "
        "API key W&B logs offline; hypersweep captures the metrics either way)",
        "extra_ignores": "# W&B's local run files\nwandb/\n",
        "run_command": "make hypertrain N_JOBS=3",
        "commands": "\n".join(
            (
                "make hypertrain N_JOBS=3   # the sweep with 3 workers, one GPU each where any",
                "make ps                    # running sweeps, workers and runs",
                "make sweeps                # every sweep of this project",
                "make kill-hypertrain-all   # stop every worker and run, for good",
                "hypersweep best SWEEP_ID   # the winning hyperparameters",
            )
        ),
    }


def render(answers: Answers, *, wandb: bool = False) -> dict[str, str]:
    """{relative path: content} of the project."""
    sweep_file = "wandb-sweep.yaml" if wandb else "sweep.yaml"
    values = {
        "name": answers.name,
        "slug": answers.slug,
        "code_dir": answers.code_dir,
        "program": answers.program,
        "sweep_file": sweep_file,
        **_variant_values(wandb, sweep_file),
    }
    templates = resources.files("hypersweep.templates") / "project"
    return {
        target.format(program=answers.program, sweep_file=sweep_file): Template(
            (templates / source).read_text(encoding="utf-8")
        ).substitute(values)
        for source, target in (_WANDB_FILES if wandb else _FILES).items()
    }


def write_project(
    directory: Path, answers: Answers, *, force: bool = False, wandb: bool = False
) -> list[Path]:
    check_target(directory, force)
    written = []
    for relative, content in render(answers, wandb=wandb).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
