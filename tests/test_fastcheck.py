"""The compiled schema check agrees with jsonschema on every document, valid or not."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core_support import EXAMPLES
from flywheel_core.config import CONFIG_SCHEMA
from flywheel_core.fastcheck import UNSUPPORTED, compile_check
from flywheel_core.models import parse_timestamp
from flywheel_core.schema import ENVELOPE_SCHEMA, _FORMATS, _validator, iter_errors, merged_schema
from flywheel_core.testing import run_cli

NUMBER = {"type": ["number", "string", "null"], "exclusiveMinimum": 0,
          "pattern": r"^\s*[+-]?\s*\$?\s*(\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d*)?|\.\d+)\s*$"}
# Shaped like the trade plugin's schema (core tests load no plugin): the keywords real session
# types use, nested the way they nest them.
TRADE_LIKE = merged_schema({
    "properties": {"source_data": {"type": "object", "required": ["trades"], "properties": {
        "trades": {"type": "array", "items": {
            "type": "object",
            "required": ["symbol", "action", "quantity", "price", "timestamp"],
            "properties": {
                "symbol": {"type": "string", "minLength": 1, "pattern": r"\S"},
                "action": {"type": "string", "pattern": r"^\s*([Bb][Uu][Yy]|[Ss][Ee][Ll][Ll])\s*$"},
                "quantity": NUMBER, "price": NUMBER, "fees": {**NUMBER, "exclusiveMinimum": -1e9},
                "timestamp": {"type": "string", "format": "flywheel-timestamp"},
                "exit_timestamp": {"type": ["string", "null"], "format": "flywheel-timestamp"},
                "count": {"type": "integer", "minimum": 0, "maximum": 1000},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "side": {"enum": ["long", "short", 1, None]},
                "kind": {"anyOf": [{"type": "string", "minLength": 2}, {"type": "object", "required": ["path"]}]},
                "flag": {"oneOf": [{"type": "boolean"}, {"const": 0}]},
            },
        }},
        "strict": {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "number"}}},
        "mapped": {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 1},
        "cond": {"if": {"type": "string"}, "then": {"maxLength": 4}, "else": {"not": {"type": "null"}}},
    }}},
})
SCHEMAS = {"envelope": ENVELOPE_SCHEMA, "trade-like": TRADE_LIKE, "config": CONFIG_SCHEMA}


def jsonschema_valid(schema: dict[str, Any], instance: Any) -> bool:
    """The reference: jsonschema with flywheel's format checker, as the slow path runs it."""
    return not any(_validator(json.dumps(schema, sort_keys=True)).iter_errors(instance))


def agrees(schema: dict[str, Any], instance: Any) -> None:
    check = compile_check(schema, _FORMATS)
    assert check is not None
    assert check(instance) == jsonschema_valid(schema, instance), json.dumps(instance)[:500]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 2000), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", " ", "\x1c", "buy", "SELL\n", "long", "x", "12.5", "1,000.25", "$7", "-3", "0",
                     "2025-12-02T05:20:00Z", "2025-02-30T00:00:00Z", "0001-01-01T00:00:00+01:00",
                     "2025-12-02 05:20", "2025-12-02T05:20:00.1234567+0530", "2025-12-02\n", "path"]),
    st.text(max_size=6),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=12,
)


def _examples() -> list[dict[str, Any]]:
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    trade = copy.deepcopy(next(d for d in docs if d["session_type"] == "trade"))
    trade["source_data"].update(strict={"a": 1}, mapped={"k": 2}, cond="abc")
    return [*docs, trade]


EXAMPLE_DOCS = _examples()
KEYS = ["session_id", "session_type", "timestamp", "agent_id", "metadata", "source_data", "trades",
        "symbol", "action", "quantity", "price", "fees", "exit_timestamp", "count", "tags", "side", "kind",
        "flag", "strict", "mapped", "cond", "a", "duration_minutes", "artifacts", "pipeline_status", "path"]


@st.composite
def mutated_sessions(draw: st.DrawFn) -> Any:
    """A real session with a few values replaced, keys removed or added anywhere in it."""
    doc = copy.deepcopy(draw(st.sampled_from(EXAMPLE_DOCS)))
    for _ in range(draw(st.integers(0, 3))):
        node, path = doc, []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            path.append((node, key))
            node = node[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "add" and isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = draw(json_values)
        elif path:
            parent, key = path[-1]
            if action == "delete" and isinstance(parent, dict):
                del parent[key]
            else:
                parent[key] = draw(json_values)
    return doc


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated_sessions())
def test_fast_check_agrees_with_jsonschema_on_sessions(name: str, doc: Any) -> None:
    agrees(SCHEMAS[name], doc)


@settings(max_examples=300, deadline=None)
@given(doc=json_values)
def test_fast_check_agrees_with_jsonschema_on_any_json(doc: Any) -> None:
    for schema in SCHEMAS.values():
        agrees(schema, doc)


def test_the_bundled_examples_pass_both_ways() -> None:
    # The mutation test above is only worth something if the unmutated documents are valid.
    for doc in EXAMPLE_DOCS:
        assert jsonschema_valid(ENVELOPE_SCHEMA, doc)
        agrees(ENVELOPE_SCHEMA, doc)
    assert jsonschema_valid(TRADE_LIKE, EXAMPLE_DOCS[-1])
    agrees(TRADE_LIKE, EXAMPLE_DOCS[-1])


# Random schemas over every keyword the check compiles, against random values.
leaf_schemas = st.one_of(
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "number", "integer", "boolean", "null", "array", "object"])),
    st.builds(lambda t: {"type": t}, st.lists(st.sampled_from(["string", "number", "integer", "null"]), min_size=1, max_size=3, unique=True)),
    st.builds(lambda n: {"minLength": n}, st.integers(0, 3)),
    st.builds(lambda n: {"maxLength": n}, st.integers(0, 3)),
    st.builds(lambda p: {"pattern": p}, st.sampled_from([r"\S", r"^a", r"b$", r"^\d+$", "x|y"])),
    st.builds(lambda k, n: {k: n}, st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
              st.one_of(st.integers(-2, 2), st.floats(-2, 2))),
    st.builds(lambda n: {"minItems": n}, st.integers(0, 2)),
    st.builds(lambda n: {"maxProperties": n}, st.integers(0, 2)),
    st.builds(lambda v: {"enum": v}, st.lists(scalars, max_size=3)),
    st.builds(lambda v: {"const": v}, json_values),
    st.just({"format": "flywheel-timestamp"}),
    st.just({"format": "date-time"}),
    st.booleans(),
)
schemas = st.recursive(
    leaf_schemas,
    lambda inner: st.one_of(
        st.builds(lambda p, r: {"properties": p, "required": r},
                  st.dictionaries(st.sampled_from(["a", "b", ""]), inner, max_size=2),
                  st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True)),
        st.builds(lambda s: {"additionalProperties": s}, inner),
        st.builds(lambda s: {"items": s}, inner),
        st.builds(lambda k, subs: {k: subs}, st.sampled_from(["allOf", "anyOf", "oneOf"]), st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda s: {"not": s}, inner),
        st.builds(lambda s: {"propertyNames": s}, inner),
        st.builds(lambda i, t, e: {"if": i, "then": t, "else": e}, inner, inner, inner),
        st.builds(lambda a, b: {**a, **b} if isinstance(a, dict) and isinstance(b, dict) else a, inner, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=600, deadline=None)
@given(schema=schemas, instance=json_values)
def test_fast_check_agrees_with_jsonschema_on_random_schemas(schema: Any, instance: Any) -> None:
    agrees(schema, instance)


def test_keywords_are_either_compiled_or_left_to_jsonschema() -> None:
    compiled = {"additionalProperties", "allOf", "anyOf", "const", "enum", "exclusiveMaximum",
                "exclusiveMinimum", "format", "if", "items", "maxItems", "maxLength", "maxProperties",
                "maximum", "minItems", "minLength", "minProperties", "minimum", "not", "oneOf", "pattern",
                "properties", "propertyNames", "required", "type"}
    assert compiled | UNSUPPORTED == set(jsonschema.Draft202012Validator.VALIDATORS)
    for keyword in UNSUPPORTED:
        assert compile_check({"properties": {"a": {keyword: {}}}}) is None


def test_a_valid_document_is_checked_without_jsonschema_an_invalid_one_with_its_messages() -> None:
    doc = json.loads((EXAMPLES / "build_session.json").read_text(encoding="utf-8"))
    assert list(iter_errors(ENVELOPE_SCHEMA, doc)) == []
    doc["agent_id"] = " "
    doc["timestamp"] = "2025-02-30T00:00:00Z"
    assert list(iter_errors(ENVELOPE_SCHEMA, doc)) == [
        ("$.agent_id", 'must be a non-empty string (got " ")'),
        ("$.timestamp", 'must be an ISO 8601 timestamp such as 2025-12-02T05:20:00Z (got "2025-02-30T00:00:00Z")'),
    ]


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       offset=st.one_of(st.none(), st.integers(-23 * 60, 23 * 60)),
       form=st.sampled_from(["Z", "offset", "naive"]), digits=st.integers(0, 6))
def test_parse_timestamp_reads_the_plain_form_as_the_general_path_does(moment, offset, form, digits) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "")
    if form == "Z":
        text += "Z"
    elif form == "offset" and offset is not None:
        sign = "-" if offset < 0 else "+"
        text += f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    # A leading space takes the general path (it strips the text); the result must be the same.
    try:
        expected: Any = parse_timestamp(" " + text)
    except (ValueError, OverflowError) as exc:
        expected = type(exc)
    try:
        got: Any = parse_timestamp(text)
    except (ValueError, OverflowError) as exc:
        got = type(exc)
    assert got == expected


def test_a_timestamp_that_cannot_be_placed_in_utc_is_refused_not_a_crash(tmp_path, empty_host) -> None:
    # Year 1 at 00:00 an hour east of UTC is year 0 in UTC: Python cannot hold it (OverflowError),
    # which made `flywheel validate` end with "internal error" (exit 1).
    doc = json.loads((EXAMPLES / "minimal_build_session.json").read_text(encoding="utf-8"))
    doc["timestamp"] = "0001-01-01T00:00:00+01:00"
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli(["validate", path], host=empty_host)
    assert result.exit_code == 2, result.output
    assert f"{path}: $.timestamp: must be an ISO 8601 timestamp" in result.stderr
    assert "internal error" not in result.output


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", " 9999-12-31T23:59:59-05", "2025-02-30",
                                  # Python holds these, but a margin of minutes around them does
                                  # not: a trade chart crashed, a web page was dated "1-01-01".
                                  "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0999-12-31"])
def test_parse_timestamp_refuses_what_utc_cannot_hold_with_a_valueerror(text) -> None:
    # An OverflowError escaped to every caller that catches ValueError: `collect trade` and
    # `collect build --since` ended with "internal error", a note's front matter likewise.
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_timestamp(text)


def test_a_month_of_timestamps_agrees() -> None:
    start = datetime(2024, 2, 27, tzinfo=timezone.utc)
    for hours in range(0, 24 * 5, 7):
        text = (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert parse_timestamp(text) == parse_timestamp(" " + text)


@pytest.mark.parametrize(("schema", "instance"), [
    ({"enum": [1]}, True), ({"enum": [True]}, 1), ({"const": 0}, False), ({"const": [1, {"a": 0}]}, [True, {"a": False}]),
    ({"const": [1, {"a": 0}]}, [1.0, {"a": 0}]), ({"enum": ["1"]}, 1), ({"type": "integer"}, 1.0),
    ({"type": "integer"}, True), ({"type": "number"}, False), ({"minimum": 5}, True), ({"type": ["integer", "null"]}, 2.5),
    ({"pattern": "^a$"}, "a\n"), ({"pattern": r"\S"}, "\x1c"), ({"minLength": 2}, "é"), ({"items": False}, []),
    ({"additionalProperties": False, "properties": {"a": True}}, {"a": 1, "b": 2}),
])
def test_fast_check_agrees_where_python_and_json_disagree(schema: dict[str, Any], instance: Any) -> None:
    agrees(schema, instance)


def test_matches_schema_answers_as_jsonschema_does_even_for_a_schema_it_cannot_compile() -> None:
    from flywheel_core import matches_schema

    refs = {"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}}
    assert compile_check(refs) is None
    for schema, instance, expected in [(refs, {"a": 1}, True), (refs, {"a": "x"}, False),
                                       (TRADE_LIKE, EXAMPLE_DOCS[-1], True), (ENVELOPE_SCHEMA, {}, False)]:
        assert matches_schema(schema, instance) is expected
        assert jsonschema_valid(schema, instance) is expected
