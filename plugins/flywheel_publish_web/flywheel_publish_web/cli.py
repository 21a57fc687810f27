"""``flywheel site build`` and ``flywheel site serve``: rebuild from the stored content, preview locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from flywheel_publish_web.settings import Settings

__all__ = ["site_app", "load_settings"]

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--config", "-c", dir_okay=False,
        help="Config file (default: $FLYWHEEL_CONFIG, else the nearest flywheel.toml or pyproject.toml "
        "[tool.flywheel] up to the repository root, else the user config; `flywheel config` shows which).",
    ),
]


def load_settings(config_path: Path | None) -> Settings:
    """The web target's settings from the config (``[targets.web]``, defaults when absent)."""
    from flywheel_core import PublishContext, load_config

    from flywheel_publish_web.settings import settings_from_config, validate_table

    config = load_config(config_path)
    table = config.target_config("web") if "web" in config.targets else {}
    validate_table(table)
    state = PublishContext(config=config, state_dir=config.state_dir).target_state_dir("web")
    return settings_from_config(table, config, state)


def _build(settings: Settings, full: bool, force: bool = False, json_out: bool = False) -> None:
    from flywheel_publish_web.build import build_site
    from flywheel_publish_web.settings import warn_if_unaddressed
    from flywheel_publish_web.store import ContentStore

    warn_if_unaddressed(settings)
    listed = None
    with ContentStore(settings) as store, store.lock():
        if force:
            listed = store.force()
            if not json_out:
                typer.echo(f"listed {listed} pages kept as drafts for having nothing to say")
        report = build_site(settings, full=full, store=store)
    if json_out:
        typer.echo(json.dumps({
            "site_dir": str(report.site_dir), "index": str(report.index), "pages": report.pages,
            "written": report.written, "removed": report.removed, "full": report.full,
            "bodies": {"rendered": report.bodies_rendered, "cached": report.bodies_cached},
            **({"drafts_listed": listed} if force else {}),
        }, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"built {report.pages} pages: {len(report.written)} files written, {len(report.removed)} removed"
        f"{' (full rebuild)' if report.full else ''}"
    )
    typer.echo(str(report.index))


def site_app() -> typer.Typer:
    app = typer.Typer(help="Build and preview the static website of the 'web' target.", no_args_is_help=True)

    @app.command("build")
    def build(
        full: Annotated[bool, typer.Option("--full", help="Render every page, ignoring what the last build wrote.")] = False,
        force: Annotated[bool, typer.Option(
            "--force", help="List the pages kept as drafts because their session had nothing to say "
                            "(no commits, trades, conversations or notes); they stay listed.")] = False,
        config: ConfigOpt = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print what the build did as JSON.")] = False,
    ) -> None:
        """Rebuild the site from the stored content; prints the path of index.html.

        --json prints {site_dir, index, pages, written, removed, full, bodies}: written and
        removed list the site paths whose files changed; bodies counts the posts' Markdown bodies
        rendered and those taken from the body cache (pages redone only for their prev/next
        links). A progress bar shows on a terminal (stderr).
        """
        _build(load_settings(config), full, force, json_out)

    @app.command("serve")
    def serve(
        port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")] = 8000,
        interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between checks for new content.")] = 1.0,
        config: ConfigOpt = None,
    ) -> None:
        """Serve the site on 127.0.0.1 and rebuild it when new content is published (Ctrl-C stops)."""
        settings = load_settings(config)
        _build(settings, False)
        _serve(settings, port, interval)

    return app


def _serve(settings: Settings, port: int, interval: float) -> None:
    import functools
    import http.server
    import signal
    import threading

    from flywheel_core import FlywheelError

    from flywheel_publish_web.store import ContentStore

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet preview
            pass

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """A missing page is answered with the site's own 404 page, as the host will."""
            page = settings.site_dir / "404.html"
            if code != 404 or not page.is_file():
                super().send_error(code, message, explain)
                return
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def signature(store: ContentStore) -> tuple:
        templates = settings.templates_dir / "web" if settings.templates_dir else None
        extra = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in templates.iterdir())) if templates and templates.is_dir() else ()
        return store.signature() + extra

    handler = functools.partial(Handler, directory=str(settings.site_dir))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        from flywheel_core import UsageError

        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    stop = threading.Event()

    def watch() -> None:
        with ContentStore(settings) as store:  # one connection for the polling, opened in this thread
            seen = signature(store)
            while not stop.wait(interval):
                now = signature(store)
                if now == seen:
                    continue
                seen = now
                try:
                    _build(settings, False)
                except (FlywheelError, OSError, ValueError) as exc:  # keep serving the last good site
                    typer.echo(f"flywheel: warning: rebuild failed: {exc}", err=True)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a service manager, ``timeout``) stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, interrupt)
    watcher = threading.Thread(target=watch, name="site-watch", daemon=True)
    watcher.start()
    typer.echo(f"serving {settings.site_dir} at http://127.0.0.1:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        watcher.join(timeout=5)
        typer.echo("stopped")
