"""A sequence of consecutive parts indexes as the flat list of their items would."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gdsim.chained import Chained


class Lists(Chained[int]):
    def __init__(self, parts: list[list[int]]) -> None:
        self.parts = parts
        self.chain([len(p) for p in parts])

    def item(self, part: int, offset: int) -> int:
        return self.parts[part][offset]


@given(st.lists(st.lists(st.integers(), max_size=5), max_size=6), st.integers(-40, 40))
def test_indexing_matches_the_flat_list(parts: list[list[int]], k: int) -> None:
    flat = [x for p in parts for x in p]
    chained = Lists(parts)
    assert len(chained) == len(flat)
    assert list(chained) == flat
    assert chained[k : k + 7] == flat[k : k + 7]
    if -len(flat) <= k < len(flat):
        assert chained[k] == flat[k]
    else:
        with pytest.raises(IndexError):
            chained[k]
