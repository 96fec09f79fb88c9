"""GraphiQL's page (what a browser gets at /graphql) and its files under /graphiql/static/.

Each file's URL carries a digest of its content, so a browser or a CDN keeps it for a year; the
page is revalidated every time and names the current digests. The page has no inline script or
style, which lets its content security policy allow scripts and styles from this origin only.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "node_modules"
STATIC = HERE / "static"
PREFIX = "/graphiql/static"

# In the order the page runs them: GraphiQL needs React; our boot script needs all of them.
SCRIPTS = {
    "react.js": VENDOR / "react" / "umd" / "react.production.min.js",
    "react-dom.js": VENDOR / "react-dom" / "umd" / "react-dom.production.min.js",
    "graphiql.js": VENDOR / "graphiql" / "graphiql.min.js",
    "explorer.js": VENDOR / "@graphiql" / "plugin-explorer" / "dist" / "index.umd.js",
    "boot.js": STATIC / "boot.js",
}
STYLES = {
    "graphiql.css": VENDOR / "graphiql" / "graphiql.min.css",
    "explorer.css": VENDOR / "@graphiql" / "plugin-explorer" / "dist" / "style.css",
    "page.css": STATIC / "page.css",
}

# GraphiQL's stylesheet embeds its fonts and icons as data: URLs. Its dialogs add one <style>
# element (react-remove-scroll, while a dialog is open): that element, and no other inline style,
# carries the page's nonce, which boot.js hands over through a <meta> tag.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
    # /graphql answers JSON to the same URL when the client does not ask for HTML.
    "Vary": "Accept",
}
FOREVER = "public, max-age=31536000, immutable"
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    digest: str

    @classmethod
    def read(cls, path: Path, media_type: str) -> Asset:
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        return cls(body, gzip.compress(body, mtime=0), media_type, digest)


class NotInstalled(RuntimeError):
    """The npm packages in api/graphiql/ are missing: `make install` has not run here."""


@cache
def assets() -> dict[str, Asset]:
    """Every file the page loads, read once (a failure is not cached: install, then reload)."""
    files = {**SCRIPTS, **STYLES}
    missing = [str(path.relative_to(HERE)) for path in files.values() if not path.is_file()]
    if missing:
        raise NotInstalled(", ".join(missing))
    scripts = {name: Asset.read(path, JAVASCRIPT) for name, path in SCRIPTS.items()}
    return scripts | {name: Asset.read(path, CSS) for name, path in STYLES.items()}


@cache
def page_html() -> str:
    found = assets()
    styles = "".join(
        f'<link rel="stylesheet" href="{PREFIX}/{found[name].digest}/{name}">\n' for name in STYLES
    )
    scripts = "".join(
        f'<script src="{PREFIX}/{found[name].digest}/{name}" defer></script>\n' for name in SCRIPTS
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL — Newsroom API</title>
<link rel="icon" href="data:,">
<meta name="style-nonce" content="{{nonce}}">
{styles}{scripts}</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
</body>
</html>
"""


NOT_INSTALLED = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphiQL is not installed</title></head>
<body>
<h1>GraphiQL is not installed on this server</h1>
<p>Its files come from npm: run <code>make install</code> (or
<code>npm ci --prefix api/graphiql</code>) and reload. Missing: {missing}.</p>
<p>The GraphQL API itself works: POST queries to this URL.</p>
</body>
</html>
"""


async def page(_: Request) -> Response:
    nonce = secrets.token_urlsafe(18)
    policy = CONTENT_SECURITY_POLICY.format(nonce=nonce)
    headers = {**PAGE_HEADERS, "Content-Security-Policy": policy}
    try:
        body = await asyncio.to_thread(page_html)
    except NotInstalled as exc:
        return HTMLResponse(NOT_INSTALLED.format(missing=exc), 503, headers=headers)
    return HTMLResponse(body.format(nonce=nonce), headers=headers)


async def asset(request: Request) -> Response:
    try:
        found = (await asyncio.to_thread(assets)).get(request.path_params["name"])
    except NotInstalled:
        found = None
    if found is None or found.digest != request.path_params["digest"]:
        return PlainTextResponse("Not Found", 404)
    headers = {"Cache-Control": FOREVER, "X-Content-Type-Options": "nosniff"}
    headers["Vary"] = "Accept-Encoding"
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


routes: list[BaseRoute] = [Route(PREFIX + "/{digest}/{name}", asset, methods=["GET"])]
