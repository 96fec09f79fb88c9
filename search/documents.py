"""Turning articles as SQL holds them into Meilisearch documents."""

from __future__ import annotations

from typing import Any

from models.document import ArticleSource

# Highlight markers: private-use characters that never occur in text, so that the text can be
# HTML-escaped first and the markers turned into <mark> afterwards.
MARK_START, MARK_END = "\ue000", "\ue001"
_NO_MARKERS = str.maketrans("", "", MARK_START + MARK_END)


def _clean(text: str | None) -> str:
    return (text or "").translate(_NO_MARKERS)


def to_document(source: ArticleSource) -> dict[str, Any]:
    """The search document of one published article."""
    published = source.published_at
    return {
        "id": source.id,
        "slug": source.slug,
        "title": _clean(source.title),
        "dek": _clean(source.dek),
        "body": "\n".join(_clean(block["text"]) for block in source.body),
        "language": source.language,
        "section": source.section_slug,
        "section_name": source.section_name,
        "authors": source.authors,
        "topics": [name for _, name in source.topics],
        "topic_slugs": [slug for slug, _ in source.topics],
        "people": [name for _, name, _, _ in source.people],
        "people_aliases": [alias for _, _, aliases, _ in source.people for alias in aliases],
        "people_roles": [role for _, _, _, role in source.people if role],
        "person_slugs": [slug for slug, _, _, _ in source.people],
        "published_at": int(published.timestamp()),
        "year": str(published.year),
        # The card picture's file (under MEDIA_URL, or the app's /media/), so a hit can show it.
        "lead_image": source.lead_image,
        "lead_image_alt": source.lead_image_alt,
    }
