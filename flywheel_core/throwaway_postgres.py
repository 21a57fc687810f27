"""A throwaway PostgreSQL server for tests, the soak and benchmarks: ``initdb`` in a temp folder, a free port on 127.0.0.1.

Debian's ``postgresql`` package provides the programs (``scripts/install-system-deps.sh``
installs it). ``initdb`` refuses to run as root, so as root the server runs as the ``postgres``
system user that package creates; otherwise as the current user. Anyone on 127.0.0.1 may
connect without a password (it is a test server), except the role :data:`PASSWORD_ROLE`, which
must give one: tests of password handling log in as it.

    python -m flywheel_core.throwaway_postgres start FOLDER   # prints the URL
    python -m flywheel_core.throwaway_postgres stop FOLDER
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PASSWORD_ROLE", "PostgresUnavailable", "ThrowawayPostgres"]

#: The one role that must log in with a password (scram-sha-256).
PASSWORD_ROLE = "flywheel_pw"
_SUPERUSER = "flywheel"
# Durability is not wanted from a server thrown away after the run: no fsync makes it fast.
_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300",
             "shared_buffers=64MB", "unix_socket_directories=", "listen_addresses=127.0.0.1")


class PostgresUnavailable(RuntimeError):
    """The server could not be set up; the message says why and what to install."""


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if candidates:
        return candidates[-1]
    raise PostgresUnavailable(
        f"PostgreSQL's {name} is not installed; run scripts/install-system-deps.sh as root "
        "(it installs Debian's postgresql package)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """One server in ``folder`` (created when missing): :meth:`start`, :attr:`url`, :meth:`stop`."""

    def __init__(self, folder: Path | None = None) -> None:
        self.owned = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="flywheel-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        """The superuser's URL for the ``postgres`` database."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, **kw)

    def start(self) -> str:
        """Create the cluster (once) and start it on a free port; return :attr:`url`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            try:
                shutil.chown(self.folder, "postgres", "postgres")
            except (LookupError, OSError) as exc:
                raise PostgresUnavailable(f"running as root, the server must run as the 'postgres' user, "
                                          f"which Debian's postgresql package creates: {exc}") from None
        if not (self.data / "PG_VERSION").exists():
            done = self._run([_bin("initdb"), "-D", str(self.data), "-U", _SUPERUSER, "--auth=trust", "-E", "UTF8",
                              "--locale=C", "--no-sync", "--no-instructions"])
            if done.returncode != 0:
                raise PostgresUnavailable(f"initdb failed: {(done.stderr or done.stdout).strip()[-800:]}")
            (self.data / "pg_hba.conf").write_text(
                f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n")
        for _ in range(5):  # another process may take the free port first
            self.port = _free_port()
            options = " ".join(["-p", str(self.port), *(f"-c {s}" for s in _SETTINGS)])
            done = self._run([_bin("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data), "-o", options,
                              "-l", str(self.folder / "server.log")])
            if done.returncode == 0:
                (self.folder / "port").write_text(str(self.port))
                return self.url
            time.sleep(0.2)
        log = (self.folder / "server.log").read_text(errors="replace")[-1500:] if (self.folder / "server.log").exists() else ""
        raise PostgresUnavailable(f"the PostgreSQL server did not start: {done.stderr.strip()}\n{log}")

    def stop(self) -> None:
        """Stop the server at once (nothing in it is kept) and, if this object made the folder, remove it."""
        if (self.data / "postmaster.pid").exists():
            self._run([_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w"])
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__.strip().splitlines()[-2].strip(), file=sys.stderr)
        return 2
    server = ThrowawayPostgres(Path(argv[1]))
    try:
        if argv[0] == "start":
            print(server.start())
        else:
            server.stop()
    except PostgresUnavailable as exc:
        print(f"throwaway-postgres: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
