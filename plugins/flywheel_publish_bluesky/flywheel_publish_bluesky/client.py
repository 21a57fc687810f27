"""XRPC calls for one Bluesky account: a session in memory only, refreshed on expiry, answers sorted into retry, wait or give up."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["BlueskyClient", "BlueskyError", "Permanent", "RateLimited", "Transient", "Unauthorized", "check_service"]

#: Waited when a 429 carries no reset time.
DEFAULT_WAIT = 300.0
_EXPIRED = {"ExpiredToken", "InvalidToken"}


class BlueskyError(Exception):
    """A failed call; the message is the server's own, never a password or a token."""


class Transient(BlueskyError):
    """5xx, a dropped connection, a timeout: the same call may work later."""


class Permanent(BlueskyError):
    """The server refused the request (400 InvalidRequest, a record that fails validation...)."""


class Unauthorized(Permanent):
    """The handle or app password was refused: every item would fail alike."""


class RateLimited(BlueskyError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _user_agent() -> str:
    try:
        return f"flywheel-publish-bluesky/{version('flywheel-publish-bluesky')}"
    except PackageNotFoundError:
        return "flywheel-publish-bluesky"


def check_service(url: str) -> str:
    """The service's base URL; plain http only on the loopback interface (the password never travels in clear)."""
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise Permanent(f"service {url} is plain http: use https (the app password must not travel in clear)")
    return url.rstrip("/")


def _wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until a limit resets: Retry-After (seconds or a date), else RateLimit-Reset (epoch seconds)."""
    retry = headers.get("Retry-After")
    if retry:
        try:
            return max(1.0, float(retry))
        except ValueError:
            try:
                return max(1.0, parsedate_to_datetime(retry).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("RateLimit-Reset")
    if reset:
        try:
            return max(1.0, float(reset) - now)
        except ValueError:
            return None
    return None


class BlueskyClient:
    """Logs in with ``com.atproto.server.createSession`` on first use. The access and refresh
    tokens live in this object only: never written, logged or checkpointed."""

    def __init__(self, service: str, identifier: str, password: str, *, timeout: float = 30.0) -> None:
        self.service = check_service(service)
        self._identifier = identifier
        self._password = password
        self._access: str | None = None
        self._refresh: str | None = None
        self.did: str | None = None
        self.handle: str | None = None
        self.blocked_until = 0.0
        self.http = httpx.Client(
            base_url=f"{self.service}/xrpc/",
            headers={"User-Agent": _user_agent(), "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> BlueskyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BlueskyClient({self.service!r}, did={self.did!r})"

    def clean(self, text: str) -> str:
        """``text`` without the password or a token in it."""
        for secret in (self._password, self._access, self._refresh):
            if secret:
                text = text.replace(secret, "***")
        return text

    # -- the session ----------------------------------------------------------------------------

    def login(self) -> None:
        answer = self._send("POST", "com.atproto.server.createSession",
                            json={"identifier": self._identifier, "password": self._password}, token=None)
        if answer.status_code == 401 or self._code(answer) == "AuthenticationRequired":
            raise Unauthorized(f"createSession: the handle or app password was refused: {self._message(answer)}")
        self._check(answer, "createSession")
        self._take(answer.json())

    def _take(self, body: dict[str, Any]) -> None:
        self._access, self._refresh = body["accessJwt"], body["refreshJwt"]
        self.did, self.handle = body["did"], body.get("handle")

    def _renew(self) -> None:
        """A new access token from the refresh token; a new session when that one is spent too."""
        answer = self._send("POST", "com.atproto.server.refreshSession", token=self._refresh)
        if answer.status_code < 300:
            self._take(answer.json())
        elif answer.status_code in (400, 401) and self._code(answer) in _EXPIRED | {"AuthenticationRequired"}:
            self.login()
        else:
            self._check(answer, "refreshSession")

    # -- calls ----------------------------------------------------------------------------------

    def call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        if self._access is None:
            self.login()
        answer = self._send(method, nsid, token=self._access, **kwargs)
        if answer.status_code in (400, 401) and self._code(answer) in _EXPIRED:
            self._renew()
            answer = self._send(method, nsid, token=self._access, **kwargs)
        self._check(answer, nsid.rsplit(".", 1)[-1])
        return answer.json() if answer.content else {}

    def put_record(self, collection: str, rkey: str, record: dict[str, Any]) -> dict[str, Any]:
        if self._access is None:
            self.login()  # the repository is the account's DID, known once logged in
        return self.call("POST", "com.atproto.repo.putRecord",
                         json={"repo": self.did, "collection": collection, "rkey": rkey, "record": record,
                               "validate": True})

    def upload_blob(self, data: bytes, mime: str) -> dict[str, Any]:
        return self.call("POST", "com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": mime})["blob"]

    def resolve_handle(self, handle: str) -> str | None:
        """The DID of ``handle``, or None when it does not resolve (the text then stays plain)."""
        answer = self._send("GET", "com.atproto.identity.resolveHandle", params={"handle": handle}, token=None)
        if answer.status_code == 200:
            return answer.json().get("did")
        if answer.status_code in (400, 404):
            return None
        self._check(answer, "resolveHandle")
        return None

    # -- one request ----------------------------------------------------------------------------

    def _send(self, method: str, nsid: str, *, token: str | None, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx.Response:
        now = time.time()
        if self.blocked_until > now:
            raise RateLimited("the rate limit is used up until it resets", self.blocked_until - now)
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            answer = self.http.request(method, nsid, headers=sent, **kwargs)
        except httpx.TransportError as exc:
            raise Transient(self.clean(f"{nsid}: {type(exc).__name__}: {exc}")) from None
        remaining = answer.headers.get("RateLimit-Remaining")
        if answer.status_code == 429 or (remaining is not None and remaining.strip() == "0"):
            wait = _wait(answer.headers, time.time())
            if wait is not None or answer.status_code == 429:
                self.blocked_until = max(self.blocked_until, time.time() + (wait or DEFAULT_WAIT))
        return answer

    def _check(self, answer: httpx.Response, what: str) -> None:
        code = answer.status_code
        if code < 300:
            return
        message = f"{what}: HTTP {code}: {self._message(answer)}"
        if code == 429:
            raise RateLimited(message, max(1.0, self.blocked_until - time.time()))
        if code >= 500:
            raise Transient(message)
        if code in (401, 403):
            raise Unauthorized(message)
        raise Permanent(message)

    @staticmethod
    def _code(answer: httpx.Response) -> str:
        try:
            body = answer.json()
        except ValueError:
            return ""
        return str(body.get("error") or "") if isinstance(body, dict) else ""

    def _message(self, answer: httpx.Response) -> str:
        try:
            body = answer.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and (body.get("error") or body.get("message")):
            text = ": ".join(str(body[k]) for k in ("error", "message") if body.get(k))
        else:
            text = " ".join(answer.text.split())[:300] or answer.reason_phrase
        return self.clean(text)
