"""The reader site's server side: every page's headers, the embedded site queries, the static
files and /widget.js (what the pages hold is tests/api/test_site_pages.py; the browser side is
tests/browser/)."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest

from api.site import data
from tests.conftest import ROOT, SAMPLE_SLUG, contract

PAGES = [
    "/",
    f"/articles/{SAMPLE_SLUG}",
    "/search?q=taurus",
    "/topics/crimea",
    "/sections/news",
]
# The site's own documents that differ from the contract's, and why (api/site/queries).
WIDENED = {
    "article-page": "authors { slug name }",  # bylines link to the authors' pages
    "site-search": "{ value label count }",  # facets show names as written
    "related-widget": "leadImage { alt width height url(width: 320) }",  # the widget's pictures
    # the search box shows why a story is suggested
    "search-suggest": "articleMatches { article { slug title } matchedIn highlight }",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
EMBEDDED = re.compile(r'<script type="application/json" id="queries">(.*?)</script>', re.S)
# The site's widened copy of the contract's document: each story's lead image too.
WIDGET_QUERY = (ROOT / "api" / "site" / "queries" / "related-widget.graphql").read_text()
WIDGET_HASH = hashlib.sha256(WIDGET_QUERY.encode()).hexdigest()


def embedded_queries(page: str) -> dict[str, str]:
    found = EMBEDDED.findall(page)
    assert len(found) == 1
    return json.loads(found[0])


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_has_the_security_headers_and_the_search_box(
    client: httpx.AsyncClient, sample: None, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    page = response.text
    assert '<main id="main"' in page
    assert '<form role="search" action="/search"' in page
    assert '<label for="q">Search stories</label>' in page
    assert '<a class="skip-link" href="#main">Skip to content</a>' in page
    # The CSP allows no inline code: every script is a file or a JSON data block.
    for tag in re.findall(r"<script[^>]*>", page):
        data_block = 'type="application/json"' in tag or 'type="application/ld+json"' in tag
        assert 'src="/' in tag or data_block, tag
    assert "<style" not in page and " style=" not in page


async def test_pages_embed_the_site_queries_their_scripts_send(
    client: httpx.AsyncClient, sample: None
) -> None:
    expected = {
        "/": {"search-suggest"},
        f"/articles/{SAMPLE_SLUG}": {
            "search-suggest",
            "comments-thread",
            "post-comment",
            "suggest-correction",
        },
        "/search?q=taurus": {"search-suggest", "site-search"},
        "/topics/crimea": {"search-suggest"},
    }
    for path, names in expected.items():
        page = (await client.get(path)).text
        queries = embedded_queries(page)
        assert set(queries) == names
        for name, text in queries.items():
            assert text == data.document(name)
        # Escaped for <script>: no "<", ">" or "&" in the block itself.
        block = EMBEDDED.findall(page)[0]
        assert not set(block) & set("<>&")


def test_the_site_s_own_documents_widen_the_contract_s_only_where_it_needs_more() -> None:
    for path in sorted(data.QUERIES.glob("*.graphql")):
        if (data.CONTRACT / path.name).exists():
            assert WIDENED[path.stem] in path.read_text(), path.name
    for name in ("comments-thread", "topic-page"):
        assert data.document(name) == contract(name)


async def test_static_files_are_served_and_the_widget_template_is_not(
    client: httpx.AsyncClient,
) -> None:
    for name in ("site.js", "article.js", "search.js", "site.css"):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "javascript" in (await client.get("/static/site.js")).headers["content-type"]
    assert (await client.get("/static/widget.js")).status_code == 404


async def test_widget_script_carries_the_query_hash_and_may_load_anywhere(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/widget.js", headers={"Origin": "http://elsewhere.example"})
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"
    script = response.text
    assert f"const HASH = {json.dumps(WIDGET_HASH)};" in script
    assert f"const QUERY = {json.dumps(WIDGET_QUERY)};" in script
    assert 'const ORIGIN = "http://test";' in script
    assert 'customElements.define("related-stories"' in script
    assert "{{" not in script


async def test_widget_query_runs_as_a_persisted_query_over_get_from_another_site(
    client: httpx.AsyncClient, sample: None
) -> None:
    params = {
        "operationName": "RelatedWidget",
        "variables": json.dumps({"slug": SAMPLE_SLUG, "limit": 4}),
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": WIDGET_HASH}}),
    }
    # What the widget sends from another site's page.
    headers = {"Origin": "http://elsewhere.example", "Accept": "application/json"}
    unknown = await client.get("/graphql", params=params, headers=headers)
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await client.get(
        "/graphql", params={**params, "query": WIDGET_QUERY}, headers=headers
    )
    assert registered.json()["data"] == {"article": {"related": []}}
    known = await client.get("/graphql", params=params, headers=headers)
    assert known.status_code == 200
    assert known.headers["access-control-allow-origin"] == "*"
    assert known.json()["data"] == {"article": {"related": []}}


@pytest.mark.parametrize("path", ["/nope", "/articles/", "/articles/a/b", "/static/nope.js"])
async def test_unknown_paths_are_not_found(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404
