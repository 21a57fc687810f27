"""Removing secrets from any text before it is printed, logged, stored or raised.

``redact`` knows token shapes (``ghp_…``), ``user:pass@`` in URLs, the values of the usual
token variables, and every secret registered with ``register_secret``: the config loader
registers each ``{"$env": NAME}`` value it resolves. A registered secret is also found in the
forms it travels in: base64 (alone, after ``x-access-token:`` or any ``user:`` in HTTP basic
auth), URL-encoded and JSON-escaped.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import logging

__all__ = ["RedactingFilter", "RedactingStream", "redact", "redaction_state", "register_secret"]

_PATTERNS = [
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"glpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?i)(authorization:\s*(?:bearer|token|basic)\s+)[^\s'\"]+"),
]
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_SECRET_ENV = ("GITHUB_TOKEN", "FLYWHEEL_GITHUB_TOKEN", "GH_TOKEN")
#: Shorter values would blank out ordinary words; such a "secret" protects nothing anyway.
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_forms: list[str] = []  # every registered form, longest first


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _base64_cores(value: bytes) -> list[str]:
    """What base64 of ``value`` looks like inside any longer encoded text (``user:<value>``).

    base64 encodes 3 bytes as 4 characters, so a value starting at any offset is encoded in one
    of three alignments; in each, all but the characters that share bits with its neighbours
    are fixed. Those cores are what a redactor can find whatever user name came before.
    """
    cores = []
    for pad in range(3):
        encoded = _b64(b"\0" * pad + value)
        # Character i holds bits 6i..6i+5; keep those lying wholly inside the value's bits.
        core = encoded[-(-8 * pad // 6) : 8 * (pad + len(value)) // 6]
        if len(core) >= 6:
            cores.append(core)
    return cores


def register_secret(value: Any) -> None:
    """Have ``redact`` replace ``value`` (a token, a password) and its encoded forms with ``***``.

    A value shorter than ``MIN_SECRET_LENGTH`` (6) characters, or not a string, is ignored."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or value in _secrets:
        return
    raw = value.encode("utf-8")
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        _b64(raw),
        _b64(b"x-access-token:" + raw),
        _b64(b":" + raw),
        base64.urlsafe_b64encode(raw).decode("ascii"),
        *_base64_cores(raw),
    }
    with _lock:
        _secrets.add(value)
        _forms.extend(f for f in forms if f not in _forms)
        _forms.sort(key=len, reverse=True)


def redaction_state() -> tuple[int, tuple[str | None, ...]]:
    """What :func:`redact` depends on besides its text: the forms of the secrets registered
    (they are only ever added to) and the token variables' values. Equal states redact a text
    alike, so a caller may keep what it redacted while the state stays the same."""
    return len(_forms), tuple(os.environ.get(name) for name in _SECRET_ENV)


def redact(text: str) -> str:
    """Replace tokens (``ghp_…``, ``github_pat_…``), ``user:pass@`` in URLs, the values of
    token environment variables and every registered secret (in its encoded forms too) with
    ``***``."""
    text = str(text)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            if len(value) >= MIN_SECRET_LENGTH and value not in _secrets:
                register_secret(value)
            text = text.replace(value, "***")
    for form in _forms:
        if form in text:
            text = text.replace(form, "***")
    text = _USERINFO.sub(r"\1***@", text)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text


class RedactingFilter:
    """A logging filter that redacts each record's message, arguments and traceback.

    Any object with a ``filter`` method is a logging filter; not subclassing ``logging.Filter``
    keeps ``logging`` out of the CLI's start-up.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        import logging

        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class RedactingStream(io.TextIOBase):
    """A text stream that redacts everything written through it to ``stream``.

    The CLI wraps stdout and stderr in it, so nothing flywheel or a plugin prints can show a
    registered secret. Each ``write`` is redacted as a whole (``print`` writes a line at once).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pipe_closed = False  # the reader went away (``flywheel queue list | head -1``)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        try:
            self.stream.write(redact(text) if text else text)
        except BrokenPipeError:
            self._to_devnull()
            raise
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._to_devnull()
            raise

    def _to_devnull(self) -> None:
        # Python's "Note on SIGPIPE": what is still buffered, and any later write, goes to
        # /dev/null, so neither the command nor the interpreter's last flush fails again.
        self.pipe_closed = True
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()
