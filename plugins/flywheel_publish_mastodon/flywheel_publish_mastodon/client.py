"""The few Mastodon REST calls the target makes, with its answers sorted into retry, wait or give up."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["MastodonAPI", "MastodonError", "Permanent", "RateLimited", "Transient", "Unauthorized"]

#: Waited when a 429 says neither Retry-After nor X-RateLimit-Reset (Mastodon's windows are 5 min).
DEFAULT_WAIT = 300.0


class MastodonError(Exception):
    """A failed call; the message is the server's own, never the token."""


class Transient(MastodonError):
    """5xx, a dropped connection, a timeout: the same call may work later."""


class Permanent(MastodonError):
    """A 4xx refusal (422 validation, 404...): retrying the same request cannot help."""


class Unauthorized(Permanent):
    """401/403: the token is wrong, revoked or lacks a scope; every item would fail alike."""


class RateLimited(MastodonError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _user_agent() -> str:
    try:
        return f"flywheel-publish-mastodon/{version('flywheel-publish-mastodon')}"
    except PackageNotFoundError:
        return "flywheel-publish-mastodon"


def check_instance(url: str) -> str:
    """The instance's base URL; plain http only on the loopback interface (a token never travels in clear)."""
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise Permanent(f"instance {url} is plain http: use https (the token must not travel in clear)")
    return url.rstrip("/")


def _reset_in(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until the limit resets: Retry-After (seconds or a date), else X-RateLimit-Reset (ISO 8601)."""
    retry = headers.get("Retry-After")
    if retry:
        try:
            return max(1.0, float(retry))
        except ValueError:
            try:
                return max(1.0, parsedate_to_datetime(retry).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            when = datetime.fromisoformat(reset)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(1.0, when.timestamp() - now)
    return None


class MastodonAPI:
    """One account on one instance. Tracks the rate limit from every answer so that a call that
    would be refused is not made: it raises :class:`RateLimited` at once instead of sleeping."""

    def __init__(self, instance: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base = check_instance(instance)
        self._token = token
        self.blocked_until = 0.0
        self.http = httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {token}", "User-Agent": _user_agent(), "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,  # a redirect could carry the Authorization header elsewhere
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MastodonAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clean(self, text: str) -> str:
        """``text`` without the token in it, whatever produced it."""
        return text.replace(self._token, "***") if self._token else text

    # -- the calls ---------------------------------------------------------------------------

    def verify_credentials(self) -> dict[str, Any]:
        return self.call("GET", "/api/v1/accounts/verify_credentials").json()

    def max_characters(self) -> int | None:
        """The instance's own limit per status (``configuration.statuses.max_characters`` of
        ``/api/v2/instance``, else of ``/api/v1/instance``); None when it states none."""
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                doc = self.call("GET", path).json()
            except Unauthorized:
                raise
            except Permanent:
                continue  # 404: a server before Mastodon 4.0 (v2), or one that has neither
            statuses = ((doc.get("configuration") or {}).get("statuses") or {}) if isinstance(doc, dict) else {}
            value = statuses.get("max_characters") if isinstance(statuses, dict) else None
            return value if isinstance(value, int) and value > 0 else None
        return None

    def account_statuses(self, account_id: str, limit: int = 40) -> list[dict[str, Any]]:
        answer = self.call("GET", f"/api/v1/accounts/{account_id}/statuses", params={"limit": limit})
        return [s for s in answer.json() if isinstance(s, dict)]

    def status_source(self, status_id: str) -> dict[str, Any]:
        return self.call("GET", f"/api/v1/statuses/{status_id}/source").json()

    def post_status(self, form: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self.call("POST", "/api/v1/statuses", data=form, headers={"Idempotency-Key": idempotency_key}).json()

    def upload_media(self, name: str, data: bytes, mime: str, description: str) -> tuple[int, dict[str, Any]]:
        form = {"description": description} if description else {}
        answer = self.call("POST", "/api/v2/media", data=form, files={"file": (name.rsplit("/", 1)[-1], data, mime)})
        return answer.status_code, answer.json()

    def media(self, media_id: str) -> tuple[int, dict[str, Any]]:
        """(200, attachment) once processed; (206, {}) while the server is still processing it."""
        answer = self.call("GET", f"/api/v1/media/{media_id}")
        return answer.status_code, (answer.json() if answer.status_code == 200 else {})

    # -- one request, its answer sorted ------------------------------------------------------

    def check_budget(self) -> None:
        """Raise :class:`RateLimited` if the last answer said no request is left until the reset."""
        now = time.time()
        if self.blocked_until > now:
            raise RateLimited("the rate limit is used up until it resets", self.blocked_until - now)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.check_budget()
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Transient(self.clean(f"{method} {path}: {type(exc).__name__}: {exc}")) from None
        self._track(answer)
        if answer.status_code < 300:
            return answer
        message = f"{method} {path}: HTTP {answer.status_code}: {self._error(answer)}"
        if answer.status_code == 429:
            wait = _reset_in(answer.headers, time.time()) or DEFAULT_WAIT
            self.blocked_until = max(self.blocked_until, time.time() + wait)
            raise RateLimited(message, wait)
        if answer.status_code >= 500:
            raise Transient(message)
        if answer.status_code in (401, 403):
            raise Unauthorized(message)
        if answer.status_code == 422 and "processing" in message.lower():
            # "Cannot attach files that have not finished processing. Try again in a moment!"
            raise Transient(message)
        raise Permanent(message)

    def _track(self, answer: httpx.Response) -> None:
        remaining = answer.headers.get("X-RateLimit-Remaining")
        if remaining is None or answer.status_code == 429:
            return
        try:
            left = int(float(remaining))
        except ValueError:
            return
        if left <= 0:
            wait = _reset_in(answer.headers, time.time())
            if wait is not None:
                self.blocked_until = max(self.blocked_until, time.time() + wait)

    def _error(self, answer: httpx.Response) -> str:
        try:
            body = answer.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            text = body["error"]
            if isinstance(body.get("error_description"), str):
                text += f": {body['error_description']}"
        else:
            text = " ".join(answer.text.split())[:300] or answer.reason_phrase
        return self.clean(text)
