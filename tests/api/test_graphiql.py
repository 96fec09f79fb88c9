"""GraphiQL at /graphql: our own page, its files from this origin, a strict CSP (api/graphiql)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from api.graphiql.routes import SCRIPTS, VENDOR, assets, page_html

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class _Page(HTMLParser):
    """What a browser would load from the page, and anything inline it would refuse to run."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self.nonce: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "style" in found or any(name.startswith("on") for name in found):
            self.inline.append(f"<{tag}> with {sorted(found)}")
        if tag == "script":
            self._in_script = True
            if found.get("src"):
                self.scripts.append(found["src"] or "")
            else:
                self.inline.append("<script> without src")
        elif tag == "style":
            self.inline.append("<style>")
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(found.get("href") or "")
        elif tag == "meta" and found.get("name") == "style-nonce":
            self.nonce = found.get("content")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


async def _page(client: httpx.AsyncClient) -> tuple[httpx.Response, _Page]:
    response = await client.get("/graphql", headers=BROWSER)
    parsed = _Page()
    parsed.feed(response.text)
    return response, parsed


async def test_graphiql_is_served_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    response, page = await _page(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = _policy(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{page.nonce}'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["font-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "unsafe" not in response.headers["content-security-policy"]
    assert page.inline == []
    assert response.headers["x-content-type-options"] == "nosniff"
    # A nonce that a page could reuse would be no protection.
    _, again = await _page(client)
    assert page.nonce and again.nonce and page.nonce != again.nonce


async def test_every_file_the_page_loads_comes_from_this_origin(
    client: httpx.AsyncClient,
) -> None:
    _, page = await _page(client)
    names = [url.rsplit("/", 1)[-1] for url in page.scripts]
    assert names == ["react.js", "react-dom.js", "graphiql.js", "explorer.js", "boot.js"]
    assert len(page.stylesheets) == 3
    for url in page.scripts + page.stylesheets:
        # Same origin: a path on this server, never another host (not even protocol-relative).
        assert re.fullmatch(r"/graphiql/static/[0-9a-f]{16}/[a-z-]+\.(js|css)", url), url
        response = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, url
        kind = "text/javascript" if url.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(kind), url
        assert "immutable" in response.headers["cache-control"], url
        assert len(response.content) > 100, url
    graphiql = next(url for url in page.scripts if url.endswith("/graphiql.js"))
    plain = (await client.get(graphiql, headers={"Accept-Encoding": "identity"})).content
    packed = await client.get(graphiql, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain) / 2
    assert packed.content == plain


async def test_a_file_under_an_old_digest_is_not_found(client: httpx.AsyncClient) -> None:
    _, page = await _page(client)
    current = page.scripts[-1]
    stale = re.sub(r"/[0-9a-f]{16}/", "/0000000000000000/", current)
    assert (await client.get(stale)).status_code == 404
    assert (await client.get("/graphiql/static/0000000000000000/nope.js")).status_code == 404


async def test_api_clients_still_get_json_without_the_page_policy(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.json()["data"] == {"__typename": "Query"}
    assert answer.headers["content-type"].startswith("application/json")
    assert "content-security-policy" not in answer.headers
    no_query = await client.get("/graphql", headers={"Accept": "application/json"})
    assert no_query.status_code == 400
    assert "content-security-policy" not in no_query.headers


@pytest.fixture
def uninstalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A checkout where `npm ci` never ran in api/graphiql: GraphiQL's bundle is not there."""
    monkeypatch.setitem(SCRIPTS, "graphiql.js", VENDOR / "graphiql" / "never-installed.js")
    assets.cache_clear()
    page_html.cache_clear()
    yield
    assets.cache_clear()
    page_html.cache_clear()


async def test_without_its_files_the_page_says_how_to_install_them(
    uninstalled: None, client: httpx.AsyncClient
) -> None:
    response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 503
    assert "make install" in response.text
    assert "content-security-policy" in response.headers
    answer = await client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.json()["data"] == {"__typename": "Query"}
