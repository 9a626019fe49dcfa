"""Which credential is used, and from where, for `hypersweep auth check` and `ui`. Values
are only returned where they are needed (the dashboard token); descriptions never hold one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from .env import check_env_secrets, secret_refs
from .secrets import SecretError, SecretStore

UI_TOKEN_ENV = "HYPERSWEEP_UI_TOKEN"
UI_TOKEN_SECRET = "ui-token"


@dataclass(frozen=True)
class Credential:
    what: str  # "dashboard token", "env.WANDB_API_KEY"...
    source: str  # where it comes from, or what happens without it
    ok: bool = True  # False: it will fail (missing, unreadable, too open)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def ui_token(
    environ: Mapping[str, str] | None = None, secrets: SecretStore | None = None
) -> tuple[str | None, Credential]:
    """The dashboard token: HYPERSWEEP_UI_TOKEN, else the stored secret `ui-token`."""
    environ = os.environ if environ is None else environ
    secrets = secrets or SecretStore()
    if environ.get(UI_TOKEN_ENV):
        return environ[UI_TOKEN_ENV], Credential(
            "dashboard token", f"environment variable {UI_TOKEN_ENV}"
        )
    try:
        if secrets.exists(UI_TOKEN_SECRET):
            path = secrets.check(UI_TOKEN_SECRET)
            return secrets.get(UI_TOKEN_SECRET), Credential(
                "dashboard token", f"secret {UI_TOKEN_SECRET} ({path})"
            )
    except SecretError as exc:
        return None, Credential("dashboard token", str(exc), ok=False)
    return None, Credential(
        "dashboard token",
        f"none: `hypersweep ui` serves loopback only (set {UI_TOKEN_ENV}, "
        f"or `hypersweep secret add {UI_TOKEN_SECRET} @FILE`)",
    )


def store_credential(url: str, origin: str, environ: Mapping[str, str] | None = None) -> Credential:
    """Where the store's password comes from: the URL, libpq's PGPASSWORD or password file."""
    environ = os.environ if environ is None else environ
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        return Credential("store", f"{shown} ({origin}; a local file, no password)")
    if parsed.password:
        where = "password in the URL"
    elif environ.get("PGPASSWORD"):
        where = "password from environment variable PGPASSWORD"
    else:
        passfile = Path(environ.get("PGPASSFILE", Path.home() / ".pgpass")).expanduser()
        if passfile.exists():
            where = f"password file {passfile} (if it has a matching line)"
        else:
            where = "no password (the server's trust, peer or certificate auth)"
    return Credential("store", f"{shown} ({origin}); {where}")


def secrets_credential(secrets: SecretStore | None = None) -> Credential:
    secrets = secrets or SecretStore()
    try:
        count = len(secrets.list())
    except SecretError as exc:
        return Credential("secrets", str(exc), ok=False)
    return Credential("secrets", f"{count} stored in {secrets.directory}")


def sweep_credentials(
    env: Mapping[str, str], command: tuple[str, ...] = (), secrets: SecretStore | None = None
) -> list[Credential]:
    """One line per `secret:NAME` of a sweep's env: its file, or why it cannot be used."""
    secrets = secrets or SecretStore()
    found = []
    for variable, name in secret_refs(env).items():
        try:
            check_env_secrets({variable: env[variable]}, command, secrets)
            found.append(Credential(f"env.{variable}", f"secret {name} ({secrets.path(name)})"))
        except SecretError as exc:
            found.append(Credential(f"env.{variable}", str(exc), ok=False))
    return found
