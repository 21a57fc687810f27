"""Fake secrets for the scanner's tests, built at test time from the corpus templates.

The corpus files (tests/data/secrets/*.json) hold templates such as ``ghp_{alnum:36}``, never a
literal token, so no secret scanner (GitHub push protection included) mistakes the repository
for a leak. Values are random but deterministic: each template is expanded with a generator
seeded by its id. ``«…»`` marks the part of a text that is the secret itself.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "secrets"

_ALPHABETS = {
    "alnum": string.ascii_letters + string.digits,
    "alpha": string.ascii_letters,
    "UPPER": string.ascii_uppercase + string.digits,
    "lower": string.ascii_lowercase + string.digits,
    "word": string.ascii_lowercase,
    "lowhex": "0123456789abcdef",
    "b64": string.ascii_letters + string.digits + "+/",
    "b64url": string.ascii_letters + string.digits + "_-",
    "digits": string.digits,
}
_TEMPLATE = re.compile(r"\{(\w+)(?::([^{}]*))?\}")


class Fakes:
    """Expands templates with a generator seeded by ``seed``."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        letters = _ALPHABETS[alphabet]
        while True:
            value = "".join(self.rng.choice(letters) for _ in range(n))
            if alphabet == "digits":
                return str(self.rng.randint(1, 9)) + value[1:]
            # Real tokens mix their classes; so do the fakes (an all-letter run is rare anyway).
            kinds = [set(string.ascii_lowercase), set(string.ascii_uppercase), set(string.digits)]
            wanted = [k for k in kinds if k & set(letters)]
            if n < 6 or all(k & set(value) for k in wanted):
                return value

    def b64(self, raw: bytes, url: bool = True) -> str:
        encode = base64.urlsafe_b64encode if url else base64.b64encode
        return encode(raw).decode().rstrip("=")

    def jwt(self) -> str:
        header = self.b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = self.b64(json.dumps({"sub": self.chars("lower", 10), "iat": self.rng.randint(10**9, 2 * 10**9)}).encode())
        return f"{header}.{payload}.{self.chars('b64url', 43)}"

    def pem(self, label: str) -> str:
        body = "\n".join(self.chars("b64", 64) for _ in range(5)) + "\n" + self.chars("b64", 28) + "=="
        return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"

    def basic(self, user: str) -> str:
        return base64.b64encode(f"{user}:{self.chars('alnum', 16)}".encode()).decode()

    def uuid(self) -> str:
        h = self.chars("lowhex", 32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def expand(self, template: str) -> str:
        def one(m: re.Match[str]) -> str:
            kind, arg = m.group(1), m.group(2)
            if kind in _ALPHABETS:
                return self.chars(kind, int(arg))
            if kind == "jwt":
                return self.jwt()
            if kind == "pem":
                return self.pem(arg)
            if kind == "basic":
                return self.basic(arg)
            if kind == "uuid":
                return self.uuid()
            if kind == "base64":  # a token with this prefix, pasted base64-encoded
                return base64.b64encode(f"{arg}{self.chars('alnum', 36)}".encode()).decode()
            return m.group()  # ${PASSWORD}, {token}: literal text of the case

        return _TEMPLATE.sub(one, template)


def expand(case: dict[str, Any]) -> tuple[str, list[str]]:
    """(text, secrets): the case's text with its templates filled in and the «» markers
    removed, and the marked parts (the values that must never survive a redaction)."""
    text = Fakes(case["id"]).expand(case["text"])
    secrets = re.findall(r"«(.*?)»", text, re.S)
    return text.replace("«", "").replace("»", ""), secrets


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))
