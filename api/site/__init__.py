"""The reader site: pages rendered on the server from the site's GraphQL documents (`queries/`,
the contract's own documents where the site needs more), their static files, and the embeddable
related-stories widget. `contract/` holds the contract as the frontend teams wrote it.
"""

from api.site.routes import routes

__all__ = ["routes"]
