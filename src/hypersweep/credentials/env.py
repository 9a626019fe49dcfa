"""A sweep's `env:` with `secret:NAME` values: checked before a sweep starts, resolved by the
agent only when it builds a program's environment (never stored, never on a command line)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .secrets import SecretError, SecretStore, secret_reference, validate_name

# Shorter values are not masked in logs: masking "ab" would mangle every line.
MIN_REDACTED_LENGTH = 6
_ENVVAR_MACRO = re.compile(r"\$\{envvar:([A-Za-z_][A-Za-z0-9_]*)\}")


class EnvSecretError(SecretError):
    """A `secret:` reference that cannot be used; `variable` names the env key."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(message)


def secret_refs(env: Mapping[str, str]) -> dict[str, str]:
    """{variable: secret name} for the `secret:NAME` values of an `env:` mapping."""
    refs = {}
    for variable, value in env.items():
        name = secret_reference(value)
        if name is not None:
            refs[variable] = name
    return refs


def check_env_secrets(
    env: Mapping[str, str],
    command: Iterable[str] = (),
    secrets: SecretStore | None = None,
) -> dict[str, str]:
    """Raise EnvSecretError for the first reference that cannot be resolved here (bad name,
    missing, loose permissions) or that the command would put on its command line.
    Returns {variable: secret name}. Reads no value."""
    secrets = secrets or SecretStore()
    refs = secret_refs(env)
    for variable, name in refs.items():
        try:
            validate_name(name)
            secrets.check(name)
        except SecretError as exc:
            raise EnvSecretError(variable, str(exc)) from None
    for token in command:
        for variable in _ENVVAR_MACRO.findall(token):
            if variable in refs:
                raise EnvSecretError(
                    variable,
                    f"${{envvar:{variable}}} in the command would put secret "
                    f"{refs[variable]!r} on the command line, where `ps` shows it; "
                    "read it from the environment in the program instead",
                )
    return refs


@dataclass
class ResolvedEnv:
    env: dict[str, str]
    secret_values: list[str] = field(default_factory=list)

    def redactions(self) -> list[bytes]:
        """Values to mask in captured output, longest first so one inside another is
        masked whole."""
        values = {v for v in self.secret_values if len(v) >= MIN_REDACTED_LENGTH}
        return sorted((v.encode() for v in values), key=len, reverse=True)


def resolve_env(env: Mapping[str, str], secrets: SecretStore | None = None) -> ResolvedEnv:
    """The sweep's env with each `secret:NAME` replaced by the stored value."""
    secrets = secrets or SecretStore()
    resolved = dict(env)
    values = []
    for variable, name in secret_refs(env).items():
        try:
            value = secrets.get(name)
        except SecretError as exc:
            raise EnvSecretError(variable, str(exc)) from None
        resolved[variable] = value
        values.append(value)
    return ResolvedEnv(resolved, values)
