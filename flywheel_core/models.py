"""The session document as attrs models, with a cattrs converter that keeps unknown fields.

Every model carries ``extra`` (fields flywheel does not know, kept verbatim) and the key order
it was read in, so a session file that flywheel rewrites loses nothing and keeps its shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import cattrs

from flywheel_core.timestamps import parse_timestamp

__all__ = [
    "ArtifactRecord",
    "Session",
    "converter",
    "parse_timestamp",
    "shape_problem",
]

_FIXED = ("extra", "key_order")


@attrs.define(eq=True)
class ArtifactRecord:
    """``artifacts.<kind>`` in the session file: where the artifact is and what became of it."""

    generated: bool = False
    path: str | None = None
    status: str | None = None
    sha256: str | None = None
    generator: str | None = None
    generated_at: str | None = None
    files: list[str] = attrs.field(factory=list)
    published_to: dict[str, Any] = attrs.field(factory=dict)
    errors: list[str] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict)
    key_order: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)


@attrs.define(eq=True)
class Session:
    """One ``work_session.json``: the envelope fields, the type's data, and everything else."""

    session_id: str
    session_type: str
    timestamp: str
    agent_id: str
    metadata: dict[str, Any] = attrs.field(factory=dict)
    source_data: dict[str, Any] = attrs.field(factory=dict)
    artifacts: dict[str, ArtifactRecord] = attrs.field(factory=dict)
    pipeline_status: dict[str, Any] = attrs.field(factory=dict)
    errors: list[Any] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict)
    key_order: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)

    def get(self, name: str, default: Any = None) -> Any:
        """A top-level field by name, known or not (``overview``, ``lessons``, ...)."""
        if name in _field_names(Session) and name not in _FIXED:
            return getattr(self, name)
        return self.extra.get(name, default)

    @property
    def when(self) -> datetime:
        """The session's timestamp as an aware UTC datetime (a naive one is read as UTC)."""
        return parse_timestamp(self.timestamp)[0]

    @property
    def date(self) -> str:
        """The session's date, ``YYYY-MM-DD`` (UTC): the date artifacts carry, never today's."""
        return self.when.date().isoformat()

    @property
    def status_key(self) -> str:
        """The ``pipeline_status`` key a run of this session sets: ``<session_type>_artifact``."""
        return f"{self.session_type}_artifact"


_SHAPE = {
    "session_id": str,
    "session_type": str,
    "timestamp": str,
    "agent_id": str,
    "metadata": dict,
    "source_data": dict,
    "artifacts": dict,
    "pipeline_status": dict,
    "errors": list,
    "extra": dict,
}
_JSON_TYPES = {str: "string", dict: "object", list: "array"}


def shape_problem(session: Session) -> str | None:
    """What makes ``session`` unfit to write back, as ``$.path: expected X, got Y``, or None.

    The JSON Schema checked the file; this checks the model after plugins handled it (a
    collector that replaced ``source_data`` with a string, an artifact record made a list).
    """
    for name, kind in _SHAPE.items():
        value = getattr(session, name, None)
        if not isinstance(value, kind):
            return f"$.{name}: expected {_JSON_TYPES[kind]}, got {type(value).__name__}"
    for kind, record in session.artifacts.items():
        if not isinstance(kind, str) or not isinstance(record, ArtifactRecord):
            return f"$.artifacts[{kind!r}]: expected an artifact record, got {type(record).__name__}"
    return None


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls))


converter = cattrs.Converter()


def _register_open_model(cls: type) -> None:
    """Teach the converter to keep unknown keys of ``cls`` in ``extra`` and the key order."""
    fields = [f for f in attrs.fields(cls) if f.name not in _FIXED]
    known = {f.name for f in fields}
    required = [f.name for f in fields if f.default is attrs.NOTHING]

    def structure(data: Any, _: type) -> Any:
        if not isinstance(data, dict):
            raise cattrs.errors.StructureHandlerNotFoundError(f"expected an object, got {data!r}", cls)
        kwargs: dict[str, Any] = {}
        for f in fields:
            if f.name in data:
                kwargs[f.name] = converter.structure(data[f.name], f.type)
        missing = [name for name in required if name not in kwargs]
        if missing:
            raise ValueError(f"missing required field(s): {', '.join(missing)}")
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**kwargs, extra=extra, key_order=tuple(data))

    def unstructure(obj: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in fields:
            value = getattr(obj, f.name)
            present = f.name in obj.key_order or f.name in required
            if not present and (value is None or value == [] or value == {} or value is False):
                continue  # do not add empty fields the file never had
            values[f.name] = converter.unstructure(value)
        for k, v in obj.extra.items():
            values.setdefault(k, v)
        out = {k: values.pop(k) for k in obj.key_order if k in values}
        out.update(values)
        return out

    converter.register_structure_hook(cls, structure)
    converter.register_unstructure_hook(cls, unstructure)


converter.register_structure_hook(Any, lambda v, _: v)
_register_open_model(ArtifactRecord)
_register_open_model(Session)
