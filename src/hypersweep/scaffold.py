"""`hypersweep init`: answers -> a project directory with train.py, sweep.yaml, a README and
a .gitignore, rendered from the templates in `templates/project/`."""

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


# template file -> path in the project ({program} is the code directory's train.py)
_FILES = {
    "train.py.tmpl": "{program}",
    "sweep.yaml.tmpl": "sweep.yaml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
}


def render(answers: Answers) -> dict[str, str]:
    """{relative path: content} of the project."""
    values = {
        "name": answers.name,
        "slug": answers.slug,
        "code_dir": answers.code_dir,
        "program": answers.program,
    }
    templates = resources.files("hypersweep.templates") / "project"
    return {
        target.format(program=answers.program): Template(
            (templates / source).read_text(encoding="utf-8")
        ).substitute(values)
        for source, target in _FILES.items()
    }


def write_project(directory: Path, answers: Answers, *, force: bool = False) -> list[Path]:
    check_target(directory, force)
    written = []
    for relative, content in render(answers).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
