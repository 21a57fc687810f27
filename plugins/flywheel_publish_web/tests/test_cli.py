"""``flywheel site build`` and ``flywheel site serve`` through the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def test_site_build_prints_index_and_full_rewrites_everything(web, sample_items, flywheel_cli) -> None:
    site = web()
    site.publish(sample_items)
    result = flywheel_cli("site", "build", "--config", site.config_path)
    assert result.exit_code == 0, result.output
    assert "0 files written" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == str(site.dir / "index.html")
    (site.dir / "index.html").unlink()
    result = flywheel_cli("site", "build", "--config", site.config_path)
    assert "1 files written" in result.stdout
    full = flywheel_cli("site", "build", "--full", "--config", site.config_path)
    assert full.exit_code == 0 and "(full rebuild)" in full.stdout


def test_site_build_json_says_what_was_written(web, sample_items, flywheel_cli) -> None:
    site = web()
    site.publish(sample_items)
    (site.dir / "index.html").unlink()
    result = flywheel_cli("site", "build", "--json", "--config", site.config_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["index"] == str(site.dir / "index.html") and report["site_dir"] == str(site.dir)
    assert report["written"] == ["index.html"] and report["removed"] == [] and report["full"] is False
    assert report["pages"] == len(site.html_pages()) - len(_redirects(site.dir))
    forced = json.loads(flywheel_cli("site", "build", "--json", "--force", "--config", site.config_path).stdout)
    assert forced["drafts_listed"] == 0


def test_a_page_redone_only_for_its_neighbour_link_takes_its_body_from_the_cache(web, kit, flywheel_cli) -> None:
    site = web()
    code = "```python\ndef lease(conn):\n    return conn.execute('SELECT 1')\n```"
    assert site.publish([kit.item("a", title="Post A", body=f"# Post A\n\nFirst.\n\n{code}\n",
                                  date="2025-11-10T10:00:00Z", project="proj")])[0].ok
    with site.store() as store:
        store.put(*store.prepare(kit.item("b", title="Post B", body="# Post B\n\nSecond.\n",
                                          date="2025-11-11T10:00:00Z", project="proj")))
    result = flywheel_cli("site", "build", "--json", "--config", site.config_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    post_a = next(p for p in report["written"] if p.startswith("build/2025/11/post-a-"))
    assert 'rel="next"' in site.read(post_a)  # its new link to post B
    assert report["bodies"] == {"rendered": 1, "cached": 1}  # post B's body rendered, post A's reused
    incremental = {p.relative_to(site.dir): p.read_bytes() for p in site.dir.rglob("*") if p.is_file()}
    full = json.loads(flywheel_cli("site", "build", "--full", "--json", "--config", site.config_path).stdout)
    assert full["bodies"] == {"rendered": 2, "cached": 0}  # a full build renders every body
    assert {p.relative_to(site.dir): p.read_bytes() for p in site.dir.rglob("*") if p.is_file()} == incremental


def _redirects(site_dir: Path) -> list[Path]:
    return [p for p in site_dir.rglob("*.html") if 'http-equiv="refresh"' in p.read_text(encoding="utf-8")]


def _terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", **extra}


def test_a_full_build_shows_progress_on_a_terminal_and_nothing_when_piped_or_quiet(web, sample_items) -> None:
    from flywheel_core.testing import run_on_terminal

    site = web()
    site.publish(sample_items)
    flywheel = Path(sys.executable).with_name("flywheel")
    build = [flywheel, "site", "build", "--full", "--config", site.config_path]
    shown = run_on_terminal(build, env=_terminal_env())
    assert shown.exit_code == 0, shown.terminal
    assert "building the site" in shown.terminal and "\x1b[" in shown.terminal
    assert shown.stdout.splitlines()[-1] == str(site.dir / "index.html"), "stdout is untouched"
    for quiet in ([flywheel, "-q", *build[1:]], build):
        env = _terminal_env(NO_COLOR="1") if quiet is build else _terminal_env()
        hushed = run_on_terminal(quiet, env=env)
        assert hushed.exit_code == 0 and hushed.terminal == "", hushed.terminal
        assert hushed.stdout == shown.stdout
    piped = subprocess.run([str(a) for a in build], capture_output=True, text=True, env=_terminal_env(), check=False)
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout == shown.stdout


def test_bad_config_is_one_line_exit_2(tmp_path, flywheel_cli) -> None:
    config = tmp_path / "flywheel.toml"
    config.write_text('[targets.web]\nper_page = "many"\n')
    result = flywheel_cli("site", "build", "--config", config)
    assert result.exit_code == 2
    assert "targets.web.per_page" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("remote", ["ext::sh -c touch% /tmp/flywheel-ext-ran", "fd::3"])
def test_a_deploy_remote_through_a_command_transport_is_one_line_exit_2(tmp_path, flywheel_cli, remote) -> None:
    # Regression: ext:: and fd:: (git refuses them by default) made every deploy fail on every retry.
    config = tmp_path / "flywheel.toml"
    config.write_text(f'[targets.web]\nbase_url = "https://example.org/"\n[targets.web.deploy]\nmethod = "git"\n'
                      f'remote = "{remote}"\n')
    result = flywheel_cli("site", "build", "--config", config)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line == (f"flywheel: error: targets.web.deploy.remote: must be a URL or a path, not starting with '-' nor a "
                    f"command transport (ext::, fd::) (got {remote!r})"), line


def test_a_site_dir_that_is_a_root_or_holds_the_project_is_one_line_exit_2(tmp_path, flywheel_cli) -> None:
    config = tmp_path / "flywheel.toml"
    for site_dir in ("/", ".", ".."):
        config.write_text(f'[targets.web]\nsite_dir = "{site_dir}"\n')
        result = flywheel_cli("site", "build", "--config", config)
        assert result.exit_code == 2, (site_dir, result.output)
        assert "targets.web.site_dir: " in result.stderr and "a folder of its own" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_verbose_shows_flywheel_debug_lines_not_markdown_it_internals(web, sample_items) -> None:
    # markdown-it logs every block rule it tries at DEBUG: thousands of lines per page under -v.
    site = web()
    site.publish(sample_items)
    shutil.rmtree(site.dir)  # every page is rendered again, from the Markdown
    flywheel = Path(sys.executable).with_name("flywheel")
    proc = subprocess.run([str(flywheel), "-v", "site", "build", "--config", str(site.config_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "flywheel: DEBUG: " in proc.stderr
    assert "markdown_it" not in proc.stderr


def test_web_target_is_registered(flywheel_host) -> None:
    owner, target = flywheel_host.target("web")
    assert target.config_schema["properties"]["per_page"]["minimum"] == 1


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_serve_on_loopback_rebuilds_on_new_content_and_stops_cleanly(web, kit, tmp_path) -> None:
    site = web()
    site.publish([kit.item("first", title="First post")])
    flywheel = Path(sys.executable).with_name("flywheel")
    proc = subprocess.Popen(
        [str(flywheel), "site", "serve", "--port", "0", "--interval", "0.2", "--config", str(site.config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = None
        for line in proc.stdout:
            match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
            if match:
                url = match.group(1)
                break
        assert url, proc.stderr.read()
        assert "First post" in _fetch(url)
        # An unknown path gets the site's own 404 page, with status 404.
        with pytest.raises(urllib.error.HTTPError) as missing:
            _fetch(url + "no/such/page/")
        assert missing.value.code == 404
        body = missing.value.read().decode()
        assert "<h1 class=\"page-title\">Not found</h1>" in body and "style.css" in body
        # Store new content without building: only the server's watcher can put it on the site.
        from flywheel_publish_web.store import ContentStore

        store = ContentStore(site.settings)
        store.put(*store.prepare(kit.item("second", title="Second post", date="2025-12-05T00:00:00Z")))
        assert "Second post" not in _fetch(url)
        # The server notices and rebuilds on its own; wait (bounded) for the rebuilt page.
        for _ in range(100):
            if "Second post" in _fetch(url):
                break
            time.sleep(0.1)
        assert "Second post" in _fetch(url)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_without_base_url_build_and_publish_warn_once_and_sites_keep_their_own_feed_ids(
    web, kit, tmp_path, caplog
) -> None:
    import logging

    import feedparser

    sites = [web(root=tmp_path / name, base_url=None) for name in ("one", "two")]
    with caplog.at_level(logging.WARNING, logger="flywheel.web"):
        for site in sites:
            site.publish([kit.item("a", title="First")])
            site.publish([kit.item("b", title="Second")])
    warnings = [r.getMessage() for r in caplog.records if "base_url is not set" in r.getMessage()]
    assert len(warnings) == 2  # once per site, not once per batch
    assert "point at http://127.0.0.1:8000/" in warnings[0] and str(sites[0].config_path) in warnings[0]
    ids = [feedparser.parse(site.read("feed.xml")).feed.id for site in sites]
    assert ids[0] != ids[1]  # two preview sites never share a feed id
    sites[0].build(full=True)
    assert feedparser.parse(sites[0].read("feed.xml")).feed.id == ids[0]

    flywheel = Path(sys.executable).with_name("flywheel")
    for site, expected in ((sites[0], 1), (web(root=tmp_path / "three"), 0)):
        proc = subprocess.run([str(flywheel), "site", "build", "--config", str(site.config_path)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.count("base_url is not set") == expected, proc.stderr


def test_templates_of_a_cloned_projects_config_run_sandboxed(web, sample_items, flywheel_cli, tmp_path) -> None:
    # Regression: templates_dir/web/ (a cloned repository's own flywheel.toml may name it) was
    # rendered in a plain Jinja2 environment: `flywheel site build` there ran any command it held.
    site = web()
    site.publish(sample_items)
    marker = tmp_path / "pwned"
    mine = tmp_path / "mine" / "web"
    mine.mkdir(parents=True)
    (mine / "index.html.j2").write_text("{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}\n")
    site.config_path.write_text('templates_dir = "mine"\n' + site.config_path.read_text(encoding="utf-8"), encoding="utf-8")
    result = flywheel_cli("site", "build", "--full", "--config", site.config_path)
    assert not marker.exists()
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("flywheel: error: template 'web/index.html.j2': access to attribute '__init__' of ")
    assert line.endswith(f"is unsafe. (templates from templates_dir {tmp_path / 'mine'} run sandboxed)")
    # A user's template that only uses what a template may use still renders, sandboxed.
    (mine / "index.html.j2").write_text('{% extends "web/base.html.j2" %}{% block main %}<p>{{ site.title | upper }}</p>{% endblock %}\n')
    result = flywheel_cli("site", "build", "--full", "--config", site.config_path)
    assert result.exit_code == 0, result.output
    assert "<p>AGENT LOG</p>" in site.read("index.html")


def test_a_compiled_template_in_the_projects_state_folder_is_never_loaded(web, sample_items, flywheel_cli, tmp_path) -> None:
    # Regression: compiled templates (marshal data, run as code) were kept in and loaded from
    # <state_dir>/cache/jinja, inside the project: a cloned repository could ship one that ran its
    # code on `flywheel site build`, sandbox or not. They now live only in the user's private cache.
    import jinja2

    site = web()
    site.publish(sample_items)
    marker = tmp_path / "pwned"
    planted = site.settings.state_dir / "cache" / "jinja"
    planted.mkdir(parents=True, exist_ok=True)
    cache = jinja2.FileSystemBytecodeCache(str(planted))
    env = jinja2.Environment()
    templates = Path(sys.modules["flywheel_publish_web"].__file__).parent / "templates"
    payload = compile(f"open({str(marker)!r}, 'w').close()", "<planted>", "exec")
    for path in templates.rglob("*.j2"):
        name = path.relative_to(templates).as_posix()
        bucket = cache.get_bucket(env, name, str(path), path.read_text(encoding="utf-8"))
        bucket.code = payload
        cache.set_bucket(bucket)
    assert any(planted.iterdir())
    result = flywheel_cli("site", "build", "--full", "--config", site.config_path)
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert "Shipping a durable publication queue" in site.read("index.html")
    assert sorted(p.name for p in (site.settings.state_dir / "cache").iterdir()) == ["body", "feed", "jinja"]
