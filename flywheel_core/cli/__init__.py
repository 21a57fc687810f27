"""The ``flywheel`` command: core commands, plugin commands, and one-line errors.

Each command group lives in its own module; heavy libraries are imported inside command
bodies so ``flywheel --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_core.errors import FlywheelError, describe_exception

if TYPE_CHECKING:
    from flywheel_core.plugins import PluginHost

__all__ = ["build_app", "main"]

_state = {"debug": False}


def _versions() -> dict[str, str]:
    """Distribution -> version: flywheel-core first, then each plugin's distribution once."""
    from importlib.metadata import PackageNotFoundError, version

    from flywheel_core.plugins import get_host

    try:
        found = {"flywheel-core": version("flywheel-core")}
    except PackageNotFoundError:
        found = {"flywheel-core": "unknown"}
    for info in get_host().infos.values():
        found.setdefault(info.distribution, info.version)
    return found


def _root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logging.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars (they are only drawn when stderr is a terminal and NO_COLOR is unset).")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print core and plugin versions.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="With --version: print the versions as JSON.")] = False,
) -> None:
    """Turn work_session.json files into publishable artifacts, then publish them exactly once."""
    from flywheel_core.progress_bars import set_quiet
    from flywheel_core.redaction import RedactingFilter

    if version:
        versions = _versions()
        if json_out:
            typer.echo(json.dumps(versions, indent=2))
        else:
            for name, number in versions.items():
                typer.echo(f"{name} {number}")
        raise typer.Exit()
    if json_out:
        raise typer.BadParameter("before a command it only applies to --version; write it after the command "
                                 "(e.g. flywheel plugins --json)", param_hint="'--json'")
    if ctx.invoked_subcommand is None:  # options only, such as `flywheel -q`
        ctx.fail("Missing command.")
    _state["debug"] = debug
    set_quiet(quiet)
    logging.basicConfig(
        level=logging.DEBUG if (verbose or debug) else logging.WARNING,
        format="flywheel: %(levelname)s: %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:  # a plugin's log line may quote a secret
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    # markdown-it logs each block rule it tries at DEBUG: thousands of lines per page, no news.
    logging.getLogger("markdown_it").setLevel(logging.INFO)
    if verbose or debug:
        from flywheel_core.plugins import get_host

        tracer = get_host().pm.trace.root
        tracer.setwriter(lambda msg: logging.getLogger("flywheel.hooks").debug(msg.rstrip()))
        get_host().pm.enable_tracing()


def build_app(host: PluginHost | None = None) -> typer.Typer:
    """The ``flywheel`` app: core command groups, then every plugin's commands."""
    from flywheel_core.cli import author, queue, session, setup, worker
    from flywheel_core.plugins import get_host

    app = typer.Typer(
        name="flywheel",
        help="Turn work_session.json files into publishable artifacts, then publish them exactly once.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        # -h everywhere; subcommands and plugin commands inherit it from the root context.
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    # Invoked without a command too, so that `flywheel --version --json` sees both options.
    app.callback(invoke_without_command=True)(_root)
    collect = typer.Typer(
        help="Write a work_session.json from a source (a git repository, a broker export, notes).",
        no_args_is_help=True,
    )
    app.add_typer(collect, name="collect")
    for module in (session, setup, queue, worker, author):
        module.register(app)
    host = host or get_host()
    for plugin, _, error in host.call_each("flywheel_register_commands", cli=app, collect=collect):
        if error is not None:
            print(
                f"flywheel: warning: plugin {host.describe(plugin)} failed to add its commands: "
                f"{describe_exception(error)}",
                file=sys.stderr,
            )
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``flywheel`` script: exit 0 done, 1 run-time failure, 2 bad input.

    Everything printed goes through the redactor, so no secret reaches the terminal; a file
    system error (disk full, read-only folder, a file where a folder should be) is one line
    naming the path and what to do, like every other error.
    """
    from flywheel_core.errors import describe_os_error
    from flywheel_core.redaction import RedactingStream

    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(stdout), RedactingStream(stderr)
    try:
        build_app()(args=argv, prog_name="flywheel")
    except FlywheelError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except OSError as exc:
        if _state["debug"]:
            raise
        _fail(f"error: {describe_os_error(exc)}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if _state["debug"]:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _fail(message: str, code: int) -> None:
    # One line, whatever the message holds (a plugin's multi-line exception, a long value).
    line = " ".join(message.split())
    print(f"flywheel: {line[:2000]}", file=sys.stderr)
    sys.exit(code)
