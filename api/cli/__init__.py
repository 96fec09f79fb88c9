"""`newsroom`, the project's command line: migrations, imports and the server.

The Typer app and its groups are api/cli/app.py; each command module registers its commands on
them when imported, so the order of the imports below is the order `--help` lists them in.
"""

from api.cli import admin, content, serving  # noqa: F401  (imported to register their commands)
from api.cli.app import app

__all__ = ["app"]
