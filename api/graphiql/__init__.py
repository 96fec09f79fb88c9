"""GraphiQL from the API's own origin: its page, its boot script and the vendored bundles.

The bundles come from the npm registry (package.json here, `npm ci` in `make install`), so
GraphiQL works without internet access and under a strict content security policy.
"""

from api.graphiql.routes import page, routes

__all__ = ["page", "routes"]
