"""The `tandem` command: one module per noun; every command but `serve` talks HTTP."""

__all__ = ["main"]

from .app import main
