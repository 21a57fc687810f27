"""Remote URLs: strip credentials before storing one, and find the web page of a commit."""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import urlsplit, urlunsplit

__all__ = ["clean_remote", "web_base", "commit_url", "is_network_remote", "repo_name_of"]

# Compiled on first use: a session without a remote needs none of them (issue 18: start-up).
_re = cache(re.compile)
_SCP = r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\s]+)$"
_HOST = r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
_PATH = r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+$"
_HEX = r"^[0-9a-fA-F]{7,64}$"


def clean_remote(url: str | None) -> str | None:
    """The URL without a password, an HTTP user name (often a token), a query or a fragment."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return None
        keep_user = parts.scheme in ("ssh", "git+ssh") and parts.username and parts.password is None
        netloc = f"{parts.username}@{host}{port}" if keep_user else f"{host}{port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    from flywheel_core import redact

    return redact(url) or None


def is_network_remote(url: str | None) -> bool:
    """True for URLs someone else can clone from (not a path on this machine)."""
    if not url:
        return False
    if "://" in url:
        return urlsplit(url).scheme in ("https", "http", "ssh", "git", "git+ssh")
    return bool(_re(_SCP).match(url)) and not re.match(r"^[A-Za-z]:[\\/]", url)


def web_base(url: str | None) -> tuple[str, str] | None:
    """``(forge, https base)`` for a GitHub or GitLab remote, e.g. ``("github", "https://github.com/o/r")``."""
    if not url:
        return None
    if "://" in url:
        try:
            parts = urlsplit(url)
            host, path = (parts.hostname or ""), parts.path
        except ValueError:
            return None
    else:
        match = _re(_SCP).match(url)
        if not match:
            return None
        host, path = match["host"], match["path"]
    host = host.lower()
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not _re(_HOST).match(host) or not _re(_PATH).match(path):
        return None
    if host == "github.com":
        if path.count("/") != 1:
            return None
        forge = "github"
    elif host == "gitlab.com" or host.startswith("gitlab."):
        forge = "gitlab"
    else:
        return None
    return forge, f"https://{host}/{path}"


def commit_url(base: tuple[str, str] | None, sha: str) -> str | None:
    """The commit's web page, or None when the hash or remote cannot make a safe link."""
    if base is None or not _re(_HEX).match(sha or ""):
        return None
    forge, root = base
    return f"{root}/commit/{sha}" if forge == "github" else f"{root}/-/commit/{sha}"


def repo_name_of(url: str | None) -> str | None:
    """The repository's name in a remote URL: ``requests`` for ``https://github.com/psf/requests.git``."""
    if not url:
        return None
    if "://" in url:
        try:
            path = urlsplit(url).path
        except ValueError:
            return None
    else:
        match = _re(_SCP).match(url)
        path = match["path"] if match else url
    name = path.rstrip("/").rsplit("/", 1)[-1]
    name = name[:-4] if name.endswith(".git") else name
    return name if re.match(r"^[A-Za-z0-9._-]{1,100}$", name) and name.strip(".") else None
