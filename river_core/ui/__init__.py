"""The web dashboard: River UI's pages and JSON API, served by `river ui` or mounted in any
ASGI app (`create_app`). Needs the `ui` extra."""

from river_core.ui.app import create_app

__all__ = ["create_app"]
