"""Persistence: the single source of truth for sweeps, runs, workers and metrics."""

from . import schema
from .db import STORE_ENV, StoreError, StoreUnavailable, default_store_url
from .store import NotFound, Row, Store, new_id

__all__ = [
    "STORE_ENV",
    "NotFound",
    "Row",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "default_store_url",
    "new_id",
    "schema",
]
