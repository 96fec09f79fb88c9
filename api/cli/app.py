"""The `newsroom` Typer app, its command groups, and what every command shares: the console
(stderr) and the settings."""

from __future__ import annotations

import typer
from rich.console import Console

from api.settings import Settings

app = typer.Typer(help="The newsroom content API.", no_args_is_help=True)
db = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db, name="db")
token = typer.Typer(help="Bearer tokens for editors and moderators.", no_args_is_help=True)
app.add_typer(token, name="token")
people_cli = typer.Typer(help="People mentioned in stories.", no_args_is_help=True)
app.add_typer(people_cli, name="people")
related_cli = typer.Typer(help="Related stories, computed ahead.", no_args_is_help=True)
app.add_typer(related_cli, name="related")
console = Console(stderr=True)


def load_settings() -> Settings:
    settings = Settings()
    settings.ensure_data_dir()
    return settings
