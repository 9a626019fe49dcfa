"""The dashboard server: a FastAPI app (JSON API + static pages) over the store."""

from .app import create_app

__all__ = ["create_app"]
