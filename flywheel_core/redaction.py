"""Removing secrets from any text before it is printed, logged, stored or raised."""

from __future__ import annotations

import os
import re

__all__ = ["redact"]

_PATTERNS = [
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"glpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?i)(authorization:\s*(?:bearer|token|basic)\s+)[^\s'\"]+"),
]
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_SECRET_ENV = ("GITHUB_TOKEN", "FLYWHEEL_GITHUB_TOKEN", "GH_TOKEN")


def redact(text: str) -> str:
    """Replace tokens (``ghp_…``, ``github_pat_…``), ``user:pass@`` in URLs and the values of
    token environment variables with ``***``."""
    text = str(text)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    text = _USERINFO.sub(r"\1***@", text)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text
