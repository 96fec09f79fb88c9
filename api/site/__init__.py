"""The reader site: HTML shells, their static files and the embeddable related-stories widget.

The pages fetch everything from /graphql with the contract queries in `contract/`; nothing here
reads the database.
"""

from api.site.routes import routes

__all__ = ["routes"]
