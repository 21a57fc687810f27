"""A yes/no JSON Schema (draft 2020-12) check compiled to Python closures: validation's fast path.

jsonschema stays the judge of a document that fails, since its errors say where and what; this
only answers "is it valid?", for the usual valid document, many times faster and without
importing jsonschema. It follows jsonschema's own rules keyword by keyword (``re.search`` for
``pattern``, ``1.0`` is an integer, ``True`` is not a number, ``format`` asserts only the formats
it is given). A schema using a keyword it does not implement is not compiled: ``compile_check``
returns None and jsonschema checks everything, as before.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable

__all__ = ["UNSUPPORTED", "compile_check"]

Check = Callable[[Any], bool]

#: Draft 2020-12 keywords that assert something and are not implemented here: a schema using
#: any of them is left to jsonschema. Every other unknown key is an annotation, which jsonschema
#: ignores too (``title``, ``description``, ``x-error``, ``$defs``...).
UNSUPPORTED = frozenset({
    "$ref", "$dynamicRef", "contains", "dependentRequired", "dependentSchemas", "multipleOf",
    "patternProperties", "prefixItems", "unevaluatedItems", "unevaluatedProperties",
    "uniqueItems",
})


class _Unsupported(Exception):
    pass


def compile_check(schema: Any, formats: dict[str, Callable[[str], bool]] | None = None) -> Check | None:
    """A function telling whether an instance is valid against ``schema``, or None if it cannot.

    ``formats`` maps a format name to a test of a string; other formats are not asserted.
    """
    try:
        return _compile(schema, formats or {})
    except (_Unsupported, re.error, TypeError, ValueError, AttributeError, RecursionError):
        return None


def _is_number(value: Any) -> bool:
    if type(value) is int or type(value) is float:
        return True
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "number": _is_number,
    "integer": _is_integer,
}


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _type_check(types: Any) -> Check:
    names = [types] if isinstance(types, str) else list(types)
    if not all(isinstance(n, str) and n in _TYPES for n in names):
        raise _Unsupported("type")
    if len(names) == 1:
        return _TYPES[names[0]]
    # The usual JSON values are tested by their exact type; anything else (a subclass, a float
    # for "integer", a Decimal for "number") by each name's own test.
    exact = frozenset(t for n in names for t in _EXACT[n])
    tests = tuple(_TYPES[n] for n in names)

    def check(value: Any) -> bool:
        if type(value) in exact:
            return True
        for test in tests:
            if test(value):
                return True
        return False

    return check


_EXACT: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "null": (type(None),), "boolean": (bool,),
    "number": (int, float), "integer": (int,),
}


def _string_checks(schema: dict[str, Any], formats: dict[str, Callable[[str], bool]]) -> list[Check]:
    """Checks that apply to strings only (each true for anything else)."""
    out: list[Check] = []
    if "minLength" in schema:
        low = schema["minLength"]
        out.append(lambda v: len(v) >= low)
    if "maxLength" in schema:
        high = schema["maxLength"]
        out.append(lambda v: len(v) <= high)
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        out.append(lambda v: search(v) is not None)
    test = formats.get(schema.get("format"))  # type: ignore[arg-type]
    if test is not None:
        out.append(test)
    return out


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    if "minimum" in schema:
        low = schema["minimum"]
        out.append(lambda v: v >= low)
    if "exclusiveMinimum" in schema:
        xlow = schema["exclusiveMinimum"]
        out.append(lambda v: v > xlow)
    if "maximum" in schema:
        high = schema["maximum"]
        out.append(lambda v: v <= high)
    if "exclusiveMaximum" in schema:
        xhigh = schema["exclusiveMaximum"]
        out.append(lambda v: v < xhigh)
    return out


def _object_check(schema: dict[str, Any], formats: dict[str, Callable[[str], bool]]) -> Check | None:
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise _Unsupported("properties")
    required = tuple(schema.get("required", ()))
    compiled = tuple((name, _compile(sub, formats)) for name, sub in props.items())
    extra_schema = schema.get("additionalProperties", True)
    extra = None if extra_schema is True else _compile(extra_schema, formats)
    known = frozenset(props)
    names = _compile(schema["propertyNames"], formats) if "propertyNames" in schema else None
    low, high = schema.get("minProperties"), schema.get("maxProperties")
    if not (props or required or extra or names or low is not None or high is not None):
        return None

    def check(value: dict[str, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        if names is not None:
            for name in value:
                if not names(name):
                    return False
        for name, sub in compiled:
            if name in value and not sub(value[name]):
                return False
        if extra is not None:
            for name, item in value.items():
                if name not in known and not extra(item):
                    return False
        if low is not None and len(value) < low:
            return False
        return high is None or len(value) <= high

    return check


def _array_check(schema: dict[str, Any], formats: dict[str, Callable[[str], bool]]) -> Check | None:
    items = _compile(schema["items"], formats) if "items" in schema else None
    low, high = schema.get("minItems"), schema.get("maxItems")
    if items is None and low is None and high is None:
        return None

    def check(value: list[Any]) -> bool:
        if low is not None and len(value) < low:
            return False
        if high is not None and len(value) > high:
            return False
        if items is not None:
            for item in value:
                if not items(item):
                    return False
        return True

    return check


def _compile(schema: Any, formats: dict[str, Callable[[str], bool]]) -> Check:
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        raise _Unsupported("schema")
    if not UNSUPPORTED.isdisjoint(schema):
        raise _Unsupported(sorted(UNSUPPORTED & set(schema))[0])
    type_ok = _type_check(schema["type"]) if "type" in schema else None
    by_kind = {
        str: _all(_string_checks(schema, formats)),
        dict: _object_check(schema, formats),
        list: _array_check(schema, formats),
        int: _all(_number_checks(schema)),
    }
    by_kind[float] = by_kind[int]
    combined = [
        _combinator(key, [_compile(sub, formats) for sub in schema[key]])
        for key in ("allOf", "anyOf", "oneOf")
        if key in schema
    ]
    if "not" in schema:
        negated = _compile(schema["not"], formats)
        combined.append(lambda v: not negated(v))
    if "enum" in schema:
        options = list(schema["enum"])
        combined.append(lambda v: any(_equal(option, v) for option in options))
    if "const" in schema:
        const = schema["const"]
        combined.append(lambda v: _equal(v, const))
    if "if" in schema:
        combined.append(_conditional(schema, formats))
    if not any(by_kind.values()):
        check = type_ok or _always
    else:
        check = _dispatch(type_ok, by_kind)
    if not combined:
        return check
    own = check
    return lambda v: own(v) and all(test(v) for test in combined)


def _all(tests: list[Check]) -> Check | None:
    if len(tests) <= 1:
        return tests[0] if tests else None
    first, rest = tests[0], _all(tests[1:])
    return lambda v: first(v) and rest(v)  # type: ignore[misc]


def _dispatch(type_ok: Check | None, by_kind: dict[type, Check | None]) -> Check:
    """Check the type, then the keywords for the value's kind (string, number, object, array)."""

    def check(value: Any) -> bool:
        if type_ok is not None and not type_ok(value):
            return False
        kind = type(value)
        test = by_kind[kind] if kind in by_kind else _by_isinstance(value, by_kind)
        return test is None or test(value)

    return check


def _by_isinstance(value: Any, by_kind: dict[type, Check | None]) -> Check | None:
    """The keywords for a value of no JSON type exactly (a subclass, a Decimal), as jsonschema sees it."""
    for kind in (str, dict, list):
        if isinstance(value, kind):
            return by_kind[kind]
    return by_kind[int] if _is_number(value) else None


def _combinator(key: str, subs: list[Check]) -> Check:
    if not subs:
        raise _Unsupported(key)  # an empty list is not a valid schema
    if key == "allOf":
        return lambda v: all(s(v) for s in subs)
    if key == "anyOf":
        return lambda v: any(s(v) for s in subs)
    return lambda v: sum(1 for s in subs if s(v)) == 1


def _conditional(schema: dict[str, Any], formats: dict[str, Callable[[str], bool]]) -> Check:
    condition = _compile(schema["if"], formats)
    then = _compile(schema.get("then", True), formats)
    otherwise = _compile(schema.get("else", True), formats)
    return lambda v: then(v) if condition(v) else otherwise(v)


def _equal(one: Any, two: Any) -> bool:
    """Equality as jsonschema's ``enum`` and ``const`` see it: ``True`` is not ``1``, even nested."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and _equal(v, two[k]) for k, v in one.items())
    return bool(_unbool(one) == _unbool(two))


_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    return _TRUE if value is True else _FALSE if value is False else value
