"""A sweep's `env:` with `secret:NAME` values: checked before a sweep starts, resolved by the
agent only when it builds a program's environment (never stored, never on a command line)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .secrets import SecretError, SecretStore, secret_reference, validate_name

# Shorter values are not masked in logs: masking "ab" would mangle every line.
MIN_REDACTED_LENGTH = 6
REDACTED = "[secret]"  # what a masked value becomes
_ENVVAR_MACRO = re.compile(r"\$\{envvar:([A-Za-z_][A-Za-z0-9_]*)\}")

T = TypeVar("T")


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

    def masked(self) -> tuple[str, ...]:
        """Values to mask wherever a program's output is recorded, longest first so one
        inside another is masked whole."""
        values = {v for v in self.secret_values if len(v) >= MIN_REDACTED_LENGTH}
        return tuple(sorted(values, key=len, reverse=True))

    def redactions(self) -> list[bytes]:
        """masked() as bytes, for captured stdout/stderr."""
        return [v.encode() for v in self.masked()]


def redact(value: T, masked: Sequence[str]) -> T:
    """`value` with each of `masked` (ResolvedEnv.masked()) replaced by [secret] in every
    string it holds, dict keys included, through lists, tuples and dicts: a record of the
    metrics file (metric names, summary values), a command line, a message. Numbers are
    left alone."""
    if not masked:
        return value
    if isinstance(value, str):
        for secret in masked:
            value = value.replace(secret, REDACTED)  # type: ignore[assignment]
        return value
    if isinstance(value, dict):
        pairs = ((redact(k, masked), redact(v, masked)) for k, v in value.items())
        return dict(pairs)  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, masked) for v in value)  # type: ignore[return-value]
    return value


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
