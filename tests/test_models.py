"""The attrs models and cattrs converter: unknown fields and key order survive any round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_core.jsonload import loads_strict
from flywheel_core.models import ArtifactRecord, Session, converter, parse_timestamp
from flywheel_core.store import SessionStore, dumps_session

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KNOWN = {"session_id", "session_type", "timestamp", "agent_id", "metadata", "source_data",
         "artifacts", "pipeline_status", "errors"}
extra_keys = st.text(min_size=1, max_size=12).filter(lambda k: k not in KNOWN)

records = st.builds(
    ArtifactRecord,
    generated=st.booleans(),
    path=st.none() | st.text(max_size=30),
    status=st.sampled_from([None, "ready", "published", "failed"]),
    sha256=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    files=st.lists(st.text(max_size=10), max_size=3),
    published_to=st.dictionaries(st.text(max_size=5), json_values, max_size=2),
    extra=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in ArtifactRecord.__annotations__), json_values, max_size=3),
)
sessions = st.builds(
    Session,
    session_id=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z"),
    session_type=st.sampled_from(["build", "trade", "life_aria"]),
    timestamp=st.just("2025-12-02T05:20:00Z"),
    agent_id=st.text(min_size=1, max_size=10),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    source_data=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    artifacts=st.dictionaries(st.sampled_from(["readme", "blog_post", "x"]), records, max_size=3),
    pipeline_status=st.dictionaries(st.text(max_size=8), st.sampled_from(["pending", "complete"]), max_size=3),
    extra=st.dictionaries(extra_keys, json_values, max_size=5),
)


@settings(max_examples=200, deadline=None)
@given(sessions)
def test_structure_of_unstructure_is_identity(session: Session) -> None:
    assert converter.structure(converter.unstructure(session), Session) == session


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(extra_keys, json_values, max_size=6), st.permutations(range(6)))
def test_load_save_load_keeps_extra_fields_and_order(tmp_path_factory, extra: dict, order) -> None:
    doc = {"session_id": "s-1", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "a",
           "metadata": {"m": 1}, "source_data": {"s": [1]}}
    doc.update(extra)
    keys = list(doc)
    shuffled = {k: doc[k] for k in sorted(keys, key=lambda k: order[keys.index(k) % 6] * 100 + keys.index(k))}
    path = Path(tmp_path_factory.mktemp("rt")) / "s.json"
    path.write_text(json.dumps(shuffled))
    store = SessionStore()
    store.save(path, store.load(path))
    again = loads_strict(path.read_bytes())
    assert again == shuffled
    assert list(again) == list(shuffled)
    store.save(path, store.load(path))
    assert path.read_text() == dumps_session(shuffled)


def test_missing_optional_fields_are_not_invented() -> None:
    doc = {"session_id": "s", "session_type": "build", "timestamp": "2025-12-02", "agent_id": "a"}
    assert converter.unstructure(converter.structure(doc, Session)) == doc


def test_session_accessors() -> None:
    s = converter.structure({"session_id": "s", "session_type": "trade", "timestamp": "2025-12-02T23:30:00-02:00",
                             "agent_id": "a", "overview": "o"}, Session)
    assert s.get("overview") == "o" and s.get("metadata") == {} and s.get("nope", 1) == 1
    assert s.date == "2025-12-03", "dates are UTC"
    assert s.status_key == "trade_artifact"


@pytest.mark.parametrize(
    "text,naive,iso",
    [
        ("2025-12-02T03:00:00.000000", True, "2025-12-02T03:00:00+00:00"),
        ("2025-12-02T05:20:00Z", False, "2025-12-02T05:20:00+00:00"),
        ("2025-12-02T05:20:00+01:00", False, "2025-12-02T04:20:00+00:00"),
        ("2025-12-02 05:20", True, "2025-12-02T05:20:00+00:00"),
        ("2025-12-02", True, "2025-12-02T00:00:00+00:00"),
        ("2025-12-02T05:20:00.123456789+0000", False, "2025-12-02T05:20:00.123456+00:00"),
    ],
)
def test_parse_timestamp(text: str, naive: bool, iso: str) -> None:
    parsed, was_naive = parse_timestamp(text)
    assert (was_naive, parsed.isoformat()) == (naive, iso)


@pytest.mark.parametrize("text", ["", "yesterday", "2025-02-30T00:00:00Z", "2025-12-02T25:00:00Z", "12/02/2025"])
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)
