"""GitHub Releases through the REST API: create or update one release per tag, politely and idempotently."""

from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import quote

from flywheel_core import FlywheelError, redact

__all__ = ["ReleaseClient", "ReleaseError"]

MAX_BODY = 125_000  # GitHub refuses longer release bodies


class ReleaseError(FlywheelError):
    """The release could not be created or updated (the message is redacted)."""


class _Retry(Exception):
    """A transient failure: look the release up again and retry."""


class ReleaseClient:
    """Create-or-update of the release for a tag.

    Every round starts by looking the tag up, so a create whose response was lost (a dropped
    connection after the server wrote it) is found and updated instead of duplicated. Rate
    limits (403/429 with ``Retry-After`` or ``X-RateLimit-Reset``) are waited out up to
    ``max_wait`` seconds in total; beyond that the publish fails and the queue retries later.
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        max_wait: float = 60.0,
        rounds: int = 5,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "flywheel-publish-github",
            },
            timeout=timeout,
            follow_redirects=False,
        )
        self.max_wait = max_wait
        self.waited = 0.0
        self.rounds = rounds
        self.sleep = sleep

    def close(self) -> None:
        self.client.close()

    def upsert(self, repository: str, tag: str, *, name: str, body: str, commitish: str) -> dict[str, Any]:
        """The release for ``tag`` with this name and body, created at ``commitish`` if new."""
        body = body if len(body) <= MAX_BODY else body[: MAX_BODY - 40] + "\n\n(truncated by flywheel)\n"
        base = f"/repos/{repository}/releases"
        last = "no attempt made"
        for round_ in range(self.rounds):
            try:
                found = self._call("GET", f"{base}/tags/{quote(tag, safe='')}", ok=(200, 404))
                if found.status_code == 200:
                    release = found.json()
                    if release.get("name") != name or release.get("body") != body:
                        release = self._call("PATCH", f"{base}/{int(release['id'])}", ok=(200,),
                                             json={"name": name, "body": body}).json()
                    return _receipt(release, tag, created=False)
                made = self._call("POST", base, ok=(201, 422),
                                  json={"tag_name": tag, "target_commitish": commitish, "name": name, "body": body})
                if made.status_code == 201:
                    return _receipt(made.json(), tag, created=True)
                last = f"422 from GitHub: {_message(made)}"  # it exists after all: the next round updates it
            except _Retry as exc:
                last = str(exc)
            self._pause(min(2.0**round_, 8.0))
        raise ReleaseError(f"release {tag!r} not created after {self.rounds} tries: {redact(last)}")

    def _call(self, method: str, url: str, *, ok: tuple[int, ...], json: Any = None):
        import httpx

        while True:
            try:
                response = self.client.request(method, url, json=json)
            except httpx.TransportError as exc:
                raise _Retry(f"{method} {url}: connection failed ({type(exc).__name__})") from None
            if response.status_code in ok:
                return response
            wait = _rate_limit_wait(response)
            if wait is not None:
                if self.waited + wait > self.max_wait:
                    raise ReleaseError(
                        f"GitHub rate limit: {method} {url} may be retried in {wait:.0f}s, "
                        f"more than the {self.max_wait:.0f}s allowed to wait; the queue will retry later"
                    )
                self._pause(wait)
                continue
            if response.status_code >= 500:
                raise _Retry(f"{method} {url}: HTTP {response.status_code}")
            raise ReleaseError(f"{method} {url}: HTTP {response.status_code}: {redact(_message(response))}")

    def _pause(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.waited += seconds
        self.sleep(seconds)


def _rate_limit_wait(response: Any) -> float | None:
    """Seconds GitHub asks us to wait, for a rate-limited response (403/429); None otherwise."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    if headers.get("retry-after", "").strip().isdigit():
        return float(headers["retry-after"])
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
        return max(0.0, float(headers["x-ratelimit-reset"]) - time.time()) + 1.0
    if response.status_code == 429 or "rate limit" in _message(response).lower():
        return 60.0  # GitHub's advice for a secondary limit without headers
    return None


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        return str(data.get("message", ""))[:300] + (f" {data['errors']}"[:300] if data.get("errors") else "")
    return str(data)[:300]


def _receipt(release: dict[str, Any], tag: str, *, created: bool) -> dict[str, Any]:
    return {"id": release.get("id"), "tag": tag, "url": release.get("html_url"), "created": created}
