"""Whatever a form or a command line sends, the schemas answer with one-line messages, never a crash."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acquisition.experiments import EXPERIMENTS

values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                   st.lists(st.floats(-1e4, 1e4), max_size=4))


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(EXPERIMENTS)), data=st.data())
def test_validate_all_returns_one_line_messages_for_any_input(name: str, data: Any) -> None:
    schema = EXPERIMENTS[name].schema
    keys = st.sampled_from(schema.names + ["unknown_field"])
    params = data.draw(st.dictionaries(keys, values, max_size=5))
    errors = schema.validate_all(params)
    assert all(isinstance(e, str) and e and "\n" not in e for e in errors)
    if not errors:
        schema.validate(params)  # consistent: no errors means validate accepts it
    else:
        assert any("=" in e for e in errors)  # every message names a field=value
