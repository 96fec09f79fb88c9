"""The only errors search/ raises; transport and SDK errors are translated into these."""

from __future__ import annotations


class SearchError(Exception):
    """Base of every search failure."""


class SearchUnavailable(SearchError):
    """The engine did not answer, or answered that it is not able to serve: try again later."""


class SearchRejected(SearchError):
    """The engine refused the request or failed the task: retrying the same thing won't help."""
