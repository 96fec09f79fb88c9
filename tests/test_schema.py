"""The committed SDL is the schema the code serves; changing one without the other fails."""

from __future__ import annotations

from pathlib import Path

from api.schema import schema

SDL = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SDL.read_text().strip() == schema.as_str().strip(), (
        "the schema changed: review it, then run `.venv/bin/newsroom schema > schema.graphql`"
    )
