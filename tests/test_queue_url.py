"""``[queue] url``: the password never in a file or a message; from {"$env": ...}, PGPASSWORD or .pgpass."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from flywheel_core.testing import run_cli

PASSWORD = "Fleet-Secret-" + "p4ss" * 4


@pytest.fixture
def password_url(postgres_server: str, postgres_url: str) -> str:
    """``postgres_url`` for the role that must log in with PASSWORD (the only one the test server asks)."""
    from flywheel_core.publishing.postgres import admin_execute
    from flywheel_core.throwaway_postgres import PASSWORD_ROLE

    exists = admin_execute(postgres_server, "SELECT 1 FROM pg_roles WHERE rolname = %s", (PASSWORD_ROLE,))
    if not exists:
        admin_execute(postgres_server, f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
    schema = parse_qs(urlsplit(postgres_url).query)["options"][0].split("=")[1]
    admin_execute(postgres_server, f"GRANT ALL ON SCHEMA {schema} TO {PASSWORD_ROLE}")
    return postgres_url.replace("postgresql://flywheel@", f"postgresql://{PASSWORD_ROLE}@")


def _project(root: Path, queue: str) -> Path:
    config = root / f"flywheel-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(f'state_dir = "state"\n[queue]\n{queue}')
    return config


def test_a_password_in_the_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    for url in (f"postgresql://fleet:{PASSWORD}@db.example:5432/flywheel", f"postgresql://db/x?password={PASSWORD}"):
        config = _project(tmp_path, f'url = "{url}"\n')
        result = run_cli(["queue", "list", "--config", str(config)])
        assert result.exit_code == 2
        assert "$.queue.url: holds a password, which must never be written in a file" in result.stderr
        assert "PGPASSWORD" in result.stderr and PASSWORD not in result.output
    plain = _project(tmp_path, f'url = "postgresql://db/x"\npassword = "{PASSWORD}"\n')
    result = run_cli(["queue", "list", "--config", str(plain)])
    assert result.exit_code == 2 and "$.queue.password" in result.stderr and PASSWORD not in result.output


def test_the_password_comes_from_the_named_variable(tmp_path: Path, password_url: str, monkeypatch) -> None:
    monkeypatch.setenv("FLEET_PG_PASSWORD", PASSWORD)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    config = _project(tmp_path, f'url = "{password_url}"\npassword = {{"$env" = "FLEET_PG_PASSWORD"}}\n')
    made = run_cli(["queue", "migrate", "--config", str(config)])
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("postgresql://127.0.0.1:") and "created the queue" in made.stdout
    assert "flywheel_pw" not in made.stdout, "messages name the database, not the user"


def test_pgpassword_is_used_and_a_wrong_password_is_one_line_that_hides_it(tmp_path: Path, password_url: str,
                                                                           monkeypatch) -> None:
    config = _project(tmp_path, f'url = "{password_url}"\n')
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert run_cli(["queue", "stats", "--config", str(config)]).exit_code == 0
    wrong = "Wrong-" + PASSWORD[::-1]
    monkeypatch.setenv("FLEET_PG_PASSWORD", wrong)
    bad = _project(tmp_path, f'url = "{password_url}"\npassword = {{"$env" = "FLEET_PG_PASSWORD"}}\n')
    result = run_cli(["queue", "stats", "--config", str(bad)])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "cannot connect to the PostgreSQL queue" in line and "password authentication failed" in line
    assert wrong not in result.output and PASSWORD not in result.output
