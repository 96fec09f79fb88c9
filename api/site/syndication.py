"""What the feeds and the sitemaps share: XML written with ElementTree, so that no headline or
name can break it (the library escapes markup, `clean` drops what XML 1.0 cannot hold), their
dates, what they record reading, and how their routes are served."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response

from api import cache
from api.settings import Settings

# XML 1.0 allows tab, newline, carriage return and the rest of Unicode but the surrogates,
# U+FFFE and U+FFFF: any other C0 control character makes a document unreadable by every parser,
# and escaping does not help (`&#1;` is as illegal as the raw byte).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def root(tag: str, **attributes: str) -> ET.Element:
    """A document's root. Namespaces are declared as attributes and prefixed tags written as
    they are (`atom:link`), so the output reads as a hand-written feed and no global prefix
    registry (`ET.register_namespace`) is touched."""
    return ET.Element(tag, {name: clean(value) for name, value in attributes.items()})


def add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    """A child of `parent`; `text` and attribute values are cleaned, ElementTree escapes them."""
    child = ET.SubElement(parent, tag, {name: clean(value) for name, value in attributes.items()})
    if text is not None:
        child.text = clean(text)
    return child


def document(top: ET.Element) -> bytes:
    written: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return written


def w3c(moment: datetime) -> str:
    """W3C datetime (RFC 3339) in UTC to the second, as sitemaps and Atom want it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(moment: datetime) -> str:
    """RSS 2.0's date (RFC 822, as mail headers write it)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def record_reads(settings: Settings) -> None:
    """What a feed or sitemap depends on, for the result cache: which stories exist and their
    fields, topics, people, authors and sections, all of which every such change drops (`LIST`).
    (Without PUBLIC_BASE_URL the cache key names the Host the links were built from.)"""
    cache.read(cache.LIST)


def route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
    """A GET route, gzipped as the pages are: feeds and sitemaps are long, repetitive text."""
    return Route(path, GZipMiddleware(request_response(endpoint)), methods=["GET"])
