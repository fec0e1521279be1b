"""The one deep walk for placeholders (model.values.first_instance), as template evaluation uses it."""

from __future__ import annotations

import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from opennsg.arm.template.values import Unknown, first_unknown
from opennsg.model.values import first_instance


def test_finds_the_first_placeholder_in_written_order() -> None:
    first, second = Unknown("reference('a')"), Unknown("reference('b')")
    value = {"x": [1, {"y": "text"}], "z": [{"w": first}], "v": second}
    assert first_instance(value, Unknown) is first
    assert first_unknown([second, first]) is second


def test_nothing_to_find() -> None:
    assert first_unknown({"a": [1, "two", None, {"b": [True, 2.5]}], "c": ()}) is None
    assert first_unknown("reference('x')") is None


def test_the_value_itself_and_tuples() -> None:
    here = Unknown("listKeys('k')")
    assert first_unknown(here) is here
    assert first_instance(("a", ("b", here)), Unknown) is here


def test_deeper_than_the_recursion_limit() -> None:
    here = Unknown("deep")
    value: Any = here
    for _ in range(sys.getrecursionlimit() + 100):
        value = {"inner": [value]}
    assert first_unknown(value) is here


def _recursive_first(value: Any) -> Unknown | None:
    """Written independently: the plain recursive walk the function replaces."""
    if isinstance(value, Unknown):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = _recursive_first(item)
        if found is not None:
            return found
    return None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.builds(Unknown, st.text(max_size=4)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4),
    max_leaves=25,
)


@given(_json)
def test_same_answer_as_the_recursive_walk(value: Any) -> None:
    assert first_unknown(value) is _recursive_first(value)
