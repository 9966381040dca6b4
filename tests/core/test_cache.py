"""The one bounded cache: at most `size` entries, the least recently used leaving first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.core.cache import Bounded


def test_the_least_recently_used_leaves_first_and_a_read_counts_as_use() -> None:
    cache: Bounded[str, int] = Bounded(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache["c"] = 3
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2


def test_a_remembered_miss_is_told_apart_from_no_entry() -> None:
    cache: Bounded[str, int | None] = Bounded(4)
    cache["nobody"] = None
    nothing = object()
    assert cache.get("nobody", nothing) is None and cache.get("unasked", nothing) is nothing


def test_pop_and_clear_forget() -> None:
    cache: Bounded[str, int] = Bounded(4)
    cache["a"] = 1
    assert cache.pop("a") == 1 and cache.pop("a") is None and len(cache) == 0
    cache["b"] = 2
    cache.clear()
    assert "b" not in cache


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Bounded(0)


@given(size=st.integers(1, 8), keys=st.lists(st.integers(0, 20), max_size=200))
def test_it_never_grows_past_its_size_and_keeps_the_newest(size: int, keys: list[int]) -> None:
    cache: Bounded[int, int] = Bounded(size)
    for key in keys:
        cache[key] = key
    assert len(cache) <= size
    newest = list(dict.fromkeys(reversed(keys)))[:size]  # the last `size` distinct keys written
    assert all(key in cache for key in newest)
