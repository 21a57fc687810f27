"""Value types that plugins return to the host: registrations, problems, artifacts, receipts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Protocol

import attrs

__all__ = [
    "Artifact",
    "PluginRegistry",
    "Problem",
    "PublishItem",
    "PublishResult",
    "SessionType",
    "Target",
]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ATTACHMENT_RE = re.compile(r"^(?!/)(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9._/-]{1,200}$")


def _as_tuple(value: Iterable[str]) -> tuple[str, ...]:
    # Not ``converter=tuple``: attrs reads a converter's signature, and a builtin's costs a
    # tokenizer compile (~6 ms of every command's start-up).
    return tuple(value)


def _check_name(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if not NAME_RE.match(value):
        raise ValueError(f"{attribute.name} {value!r} must match {NAME_RE.pattern}")


@attrs.frozen
class SessionType:
    """A session type a plugin owns: its name, its JSON Schema fragment and the artifacts it makes.

    ``schema`` is a JSON Schema (draft 2020-12) for the whole session document; core merges it
    into the envelope schema. Typically it only describes ``metadata`` and ``source_data``.
    """

    name: str = attrs.field(validator=_check_name)
    description: str = ""
    schema: dict[str, Any] = attrs.field(factory=dict)
    artifacts: tuple[str, ...] = ()


@attrs.frozen
class Target:
    """A publication target a plugin owns, with the JSON Schema of its ``[targets.<name>]`` table.

    ``kinds`` names the artifact kinds the target takes (e.g. ``("social_post",)`` for a social
    network); only those are enqueued for it. Empty means every kind.
    """

    name: str = attrs.field(validator=_check_name)
    description: str = ""
    config_schema: dict[str, Any] = attrs.field(factory=dict)
    kinds: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)

    def takes(self, kind: str) -> bool:
        """Whether an artifact of ``kind`` is published to this target."""
        return not self.kinds or kind in self.kinds


@attrs.frozen
class Problem:
    """One finding about a session: an error fails validation, a warning is printed only.

    ``path`` is a JSON path into the session document (``$.source_data.trades[2].price``).
    """

    message: str
    path: str = "$"
    severity: Literal["error", "warning"] = "error"

    @classmethod
    def warning(cls, message: str, path: str = "$") -> Problem:
        """A finding that is printed but does not fail validation."""
        return cls(message, path, "warning")

    @classmethod
    def error(cls, message: str, path: str = "$") -> Problem:
        """A finding that makes the session invalid: it is not run, the CLI exits 2."""
        return cls(message, path, "error")

    def format(self, file: str, limit: int = 400) -> str:
        """``FILE: $.path: message`` on one line, however long or multi-line the message."""
        prefix = "warning: " if self.severity == "warning" else ""
        message = " ".join(self.message.split())
        if len(message) > limit:
            message = message[: limit - 3] + "..."
        return f"{file}: {self.path}: {prefix}{message}"


def _check_attachments(instance: object, attribute: attrs.Attribute, value: dict) -> None:
    for name in value:
        if not ATTACHMENT_RE.match(name):
            raise ValueError(f"attachment name {name!r} must be a plain relative path")


@attrs.define
class Artifact:
    """One generated artifact, returned by ``flywheel_generate``.

    Core writes ``content`` to ``<out>/<session_type>/<session_id>/<kind>.<ext>`` and each
    attachment (a relative path such as ``media/ab12.png`` or ``social_post.json``) beside it.
    ``title``, ``summary``, ``tags``, ``draft`` and ``meta`` travel with the artifact into the
    publication queue, so targets (a website, a repository) can present it.

    Conventional ``meta`` keys that targets understand (all optional, JSON-serialisable):
    ``project`` (groups sessions of one project, e.g. the repository name: prev/next links),
    ``image`` (an attachment path used as the preview/OpenGraph image),
    ``images`` (attachment paths shown as a gallery: ``[{"src", "thumb", "caption"}]``),
    ``provenance`` (what the artifact was made from: ``{"commits": [...], "trades": N, ...}``),
    ``social`` (on a ``social_post``, whose ``social_post.json`` attachment maps each network to
    its thread parts: ``link`` the session page's URL every post carries, ``link_title``,
    ``link_kind`` the kind of the artifact that page shows (the posts wait until it is published),
    ``content_warning`` for Mastodon, ``image`` ``{"src", "alt"}`` an attachment to post with
    its alt text, ``hashtags`` ``{network: [tag, ...]}``; see ``flywheel_core.posts``).
    """

    kind: str = attrs.field(validator=_check_name)
    content: str | bytes
    ext: str = attrs.field(default="md", validator=attrs.validators.matches_re(r"^[a-z0-9]{1,10}$"))
    title: str = ""
    summary: str = ""
    tags: list[str] = attrs.field(factory=list)
    draft: bool = False
    attachments: dict[str, str | bytes] = attrs.field(factory=dict, validator=_check_attachments)
    meta: dict[str, Any] = attrs.field(factory=dict)
    generator: str = ""

    @property
    def filename(self) -> str:
        """``<kind>.<ext>``: the main file's name in the artifact's folder."""
        return f"{self.kind}.{self.ext}"

    def data(self) -> bytes:
        """``content`` as bytes (text is encoded as UTF-8)."""
        return self.content.encode("utf-8") if isinstance(self.content, str) else self.content


@attrs.define
class PublishItem:
    """One due (artifact, target) entry handed to ``flywheel_publish``.

    ``files`` maps a path relative to the artifact's folder to its bytes: the main file
    (``<kind>.<ext>``) and every attachment. ``meta`` holds the artifact's title, summary,
    date, tags, draft flag, session provenance and whatever its generator put in ``meta``.

    ``key`` is the entry's idempotency key (a hex sha256, the same on every attempt): derive an
    ``Idempotency-Key`` header or a record key from it. ``progress`` is what the target saved
    with ``ctx.checkpoint(item, ...)`` on an earlier attempt (e.g. the ids of the parts of a
    thread already posted); ``attempts`` > 1 with an empty ``progress`` means an earlier attempt
    may or may not have reached the target: look before posting again.
    """

    id: int
    target: str
    session_id: str
    session_type: str
    kind: str
    ext: str
    sha256: str
    files: dict[str, bytes]
    meta: dict[str, Any] = attrs.field(factory=dict)
    attempts: int = 0
    key: str = ""
    progress: dict[str, Any] = attrs.field(factory=dict)

    @property
    def filename(self) -> str:
        """``<kind>.<ext>``: the main file's key in ``files``."""
        return f"{self.kind}.{self.ext}"

    @property
    def content(self) -> bytes:
        """The main file's bytes, ``files[filename]``."""
        return self.files[self.filename]


@attrs.define
class PublishResult:
    """What a target reports for one item: ``ok`` with a receipt (commit, url), or an error.

    A failure is retried with backoff, unless ``permanent`` (no retry can help: the server
    refused the content) or ``retry_after`` is set (seconds to wait, e.g. a rate limit's
    ``Retry-After``: the entry is deferred without spending one of its attempts).
    """

    item_id: int
    ok: bool
    receipt: dict[str, Any] = attrs.field(factory=dict)
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None


class PluginRegistry(Protocol):
    """What the modules below the plugin host use of it: hook calls, names, templates, config schemas.

    :class:`flywheel_core.plugins.PluginHost` implements it. ``config``, ``render`` and
    ``context`` sit below ``plugins`` in the import order, so they name this protocol instead
    of the host class: imports run one way.
    """

    def describe(self, name: str) -> str:
        """``name (distribution)`` of a loaded plugin, for messages."""
        ...

    def call_each(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any, BaseException | None]]:
        """Call ``hook`` plugin by plugin; yield (plugin name, result, error)."""
        ...

    def template_dirs(self) -> list[Path]:
        """Every plugin's packaged template folders."""
        ...

    def config_schemas(self) -> dict[str, dict[str, Any]]:
        """Each plugin's ``[plugins.<name>]`` JSON Schema, by plugin name."""
        ...
