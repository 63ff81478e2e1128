"""The dashboard: a single-page app served on tandem's own port, reading tandem's public APIs."""

from .routes import STATIC_DIR, add_routes

__all__ = ["add_routes", "STATIC_DIR"]
