"""A page request says one direction and one size; the API checks arguments before this."""

from __future__ import annotations

import pytest

from models.pagination import PageRequest


@pytest.mark.parametrize("arguments", [{}, {"first": 2, "last": 2}, {"last": -1}, {"first": -1}])
def test_a_page_request_takes_one_size_of_zero_or_more(arguments: dict) -> None:
    with pytest.raises(ValueError):
        PageRequest(**arguments)


def test_a_page_request_reads_backward_only_with_last() -> None:
    assert PageRequest(last=3).backward and PageRequest(last=3).size == 3
    assert not PageRequest(first=0).backward and PageRequest(first=0).size == 0
    # Loaders batch parents by their page request: equal requests must be one key.
    assert len({PageRequest(last=3, before=(1, 2)), PageRequest(last=3, before=(1, 2))}) == 1
