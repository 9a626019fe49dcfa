"""The store of secrets: one file per secret under the user's config directory
(`$XDG_CONFIG_HOME/hypersweep/secrets/NAME` on Linux), directory 0700, files 0600.

Values are returned to callers and never formatted into a message: every error here names
the secret or the file, not what is in it.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

SECRET_PREFIX = "secret:"
SECRETS_DIR_ENV = "HYPERSWEEP_SECRETS_DIR"  # overrides the config-directory location
MAX_VALUE_BYTES = 64 * 1024  # far above any token; well under the kernel's limit per variable
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SecretError(Exception):
    """A problem with a secret the user can fix. str() is one line without the value."""


@dataclass(frozen=True)
class SecretInfo:
    name: str
    path: Path
    modified: float


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise SecretError(
            f"invalid secret name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def secret_reference(value: str) -> str | None:
    """The secret name of an `env:` value written `secret:NAME`, else None."""
    if not value.startswith(SECRET_PREFIX):
        return None
    return value[len(SECRET_PREFIX) :]


def check_private(path: Path, *, directory: bool = False) -> os.stat_result:
    """Refuse, as ssh does, a key file (or the directory holding them) that another user
    can read or change, or that someone else owns."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretError(f"{path} does not exist") from None
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror}") from None
    kind_ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        raise SecretError(f"{path} is not a {'directory' if directory else 'regular file'}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise SecretError(f"{path} belongs to another user (uid {info.st_uid}); refusing it")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        wanted = "700" if directory else "600"
        raise SecretError(
            f"permissions {mode:04o} for {path} are too open: other users can "
            f"{'access' if directory else 'read'} it; run `chmod {wanted} {path}`"
        )
    return info


def read_private_file(path: Path) -> str:
    """A secret's value from a file only its owner can read; trailing newlines dropped
    (`echo TOKEN > file` must give TOKEN)."""
    info = check_private(path)
    if info.st_size > MAX_VALUE_BYTES:
        raise SecretError(f"{path} is larger than {MAX_VALUE_BYTES // 1024} KiB: not a secret")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror}") from None
    return check_value(data.decode("utf-8", errors="strict").rstrip("\r\n"), str(path))


def check_value(value: str, origin: str) -> str:
    if not value:
        raise SecretError(f"{origin} is empty: a secret needs a value")
    if "\0" in value:
        raise SecretError(f"{origin} contains a NUL byte, which an environment cannot hold")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise SecretError(f"{origin} is larger than {MAX_VALUE_BYTES // 1024} KiB")
    return value


def default_secrets_dir() -> Path:
    override = os.environ.get(SECRETS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    # platformdirs follows XDG_CONFIG_HOME on Linux (~/.config by default).
    return Path(platformdirs.user_config_dir("hypersweep", appauthor=False)) / "secrets"


class SecretStore:
    """Named secrets in a private directory; a missing directory is an empty store."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_secrets_dir()

    def path(self, name: str) -> Path:
        return self.directory / validate_name(name)

    def _checked_dir(self) -> bool:
        """True when the directory exists and is private; raises if it is not private."""
        if not self.directory.exists():
            return False
        check_private(self.directory, directory=True)
        return True

    def add(self, name: str, value: str) -> Path:
        """Write atomically: a reader sees the old value or the new one, never half."""
        path = self.path(name)
        check_value(value, f"the value of secret {name!r}")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private(self.directory, directory=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)  # mkstemp already makes it 0600; said here on purpose
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(value)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def get(self, name: str) -> str:
        path = self.path(name)
        if not self._checked_dir() or not path.exists():
            raise SecretError(
                f"secret {name!r} is not set: add it with `hypersweep secret add {name} @FILE` "
                f"(or --from-env VAR)"
            )
        return read_private_file(path)

    def check(self, name: str) -> Path:
        """Everything `get` checks, without reading the value: where it is, or why not."""
        path = self.path(name)
        if not self._checked_dir() or not path.exists():
            self.get(name)  # raises the "not set" error
        check_private(path)
        return path

    def remove(self, name: str) -> None:
        path = self.path(name)
        if not path.exists():
            raise SecretError(f"no secret named {name!r} (see `hypersweep secret ls`)")
        path.unlink()

    def list(self) -> list[SecretInfo]:
        if not self._checked_dir():
            return []
        found = []
        for path in sorted(self.directory.iterdir()):
            if path.name.startswith(".") or not _NAME.match(path.name) or not path.is_file():
                continue  # temporary files of an interrupted add, strangers
            found.append(SecretInfo(path.name, path, path.stat().st_mtime))
        return found
