"""Credentials: the user's stored secrets (`hypersweep secret ...`), the `secret:NAME`
references a sweep's `env:` may hold, and where each credential in use comes from."""

from .secrets import (
    SECRET_PREFIX,
    SecretError,
    SecretInfo,
    SecretStore,
    check_private,
    read_private_file,
    secret_reference,
    validate_name,
)

__all__ = [
    "SECRET_PREFIX",
    "SecretError",
    "SecretInfo",
    "SecretStore",
    "check_private",
    "read_private_file",
    "secret_reference",
    "validate_name",
]
