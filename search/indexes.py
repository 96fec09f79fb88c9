"""The article index's settings, kept in the versioned `settings.json` beside this module."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from search.client import SearchClient

SETTINGS_FILE = Path(__file__).with_name("settings.json")


@cache
def article_settings() -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(SETTINGS_FILE.read_text())
    return settings


async def ensure_articles_index(client: SearchClient, index: str | None = None) -> None:
    """Create the index if missing and apply the settings; safe to repeat."""
    index = index or client.articles
    await client.create_index(index)
    await client.update_settings(index, article_settings())
