"""The ``flywheel`` command: core commands, plugin commands, and one-line errors.

Each command group lives in its own module; heavy libraries are imported inside command
bodies, and a subcommand's options are read from its function only when it is used, so
``flywheel --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from flywheel_core.errors import FlywheelError, describe_exception

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flywheel_core.plugins import PluginHost

__all__ = ["CORE_COMMANDS", "CORE_GROUPS", "LazyFunction", "LazyGroup", "LazyTyper", "build_app", "click_command",
           "lazy_command", "lazy_group", "main"]

_state: dict[str, Any] = {"debug": False}


def _versions() -> dict[str, str]:
    """Distribution -> version: flywheel-core first, then each plugin's distribution once.

    Core's is ``flywheel_core.__version__``, the one source its installed metadata is made from
    (pyproject's dynamic version); reading the metadata imports ``importlib.metadata`` and
    ``email`` (~20 ms). The plugins' versions come from the entry-point cache.
    """
    from flywheel_core import __version__
    from flywheel_core.plugins import get_host

    found = {"flywheel-core": __version__}
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
    import logging

    from flywheel_core.progress_bars import set_quiet
    from flywheel_core.redaction import RedactingFilter

    if version:
        versions = _versions()
        if json_out:
            import json

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
        from flywheel_core.schema import mask_suspicious

        tracer = get_host().pm.trace.root
        # A traced call shows its arguments, the whole session among them: a token pasted into
        # a conversation would reach a CI log that only meant to debug.
        tracer.setwriter(lambda msg: logging.getLogger("flywheel.hooks").debug(mask_suspicious(msg.rstrip())))
        get_host().pm.enable_tracing()


#: Core commands, in the order ``flywheel --help`` lists them: name, "module:function" (imported
#: only when the command runs or shows its own help), and its line in listings, the first
#: paragraph of the function's docstring (tests/test_cli_lazy.py keeps the two the same).
CORE_COMMANDS = (
    ("validate", "flywheel_core.cli.session:validate", "Check session files against the schema and the plugins' rules."),
    ("run", "flywheel_core.cli.session:run",
     "Generate the artifacts of each session, write them, and record them in the session file."),
    ("schema", "flywheel_core.cli.session:schema",
     "Print the JSON Schema (draft 2020-12) of the envelope, or merged with a session type's."),
    ("start", "flywheel_core.cli.tracking:start",
     "Record that a work session begins: the time, the agent, and where every branch points."),
    ("end", "flywheel_core.cli.tracking:end",
     "Collect what happened since `flywheel start` (else since the last end, else --since), write\n"
     "the session file, run it and publish it."),
    ("plugins", "flywheel_core.cli.setup:plugins",
     "List installed plugins: distribution, version, hooks, session types and targets."),
    ("init", "flywheel_core.cli.setup:init", "Write a commented flywheel.toml listing every setting, with working defaults."),
    ("config", "flywheel_core.cli.setup:config_cmd",
     "Show which config file applies from here, how it was found, and every setting in effect."),
    ("publish", "flywheel_core.cli.queue:publish_cmd",
     "Publish every queue entry that is due, to each enabled target (or only --target)."),
    ("worker", "flywheel_core.cli.worker:worker_cmd",
     "Publish queue entries as they become due, until stopped (SIGTERM or Ctrl-C)."),
    ("new-plugin", "flywheel_core.cli.author:new_plugin",
     "Create a complete, installable plugin project whose own tests pass as generated."),
    ("context", "flywheel_core.cli.author:context",
     "Print, as JSON, the exact context each template receives for a session."),
    ("render", "flywheel_core.cli.author:render",
     "Render your own template against the context a packaged template gets for a session."),
)


#: Core command groups, after the commands: name, "module:typer app", and the app's help.
CORE_GROUPS = (
    ("queue", "flywheel_core.cli.queue:queue_app", "Inspect and manage the publication queue."),
    ("review", "flywheel_core.cli.review:review_app",
     "Read, approve or reject queue entries the publishing scan held (docs/secrets.md)."),
)


def build_app(host: PluginHost | None = None) -> typer.Typer:
    """The ``flywheel`` app: core commands and command groups, then every plugin's commands.

    Core commands and groups are added with :func:`lazy_command` and :func:`lazy_group`, as
    plugins add theirs: a command's module is imported only when it runs (issue 18: start-up).
    """
    from flywheel_core.plugins import get_host

    app = typer.Typer(
        name="flywheel",
        help="Turn work_session.json files into publishable artifacts, then publish them exactly once.",
        cls=LazyGroup,
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
        cls=LazyGroup,
        no_args_is_help=True,
    )
    app.add_typer(collect, name="collect")
    for name, target, summary in CORE_COMMANDS:
        lazy_command(app, target, name=name, help=summary)
    for name, target, summary in CORE_GROUPS:
        lazy_group(app, target, name=name, help=summary)
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
    strict = _escape_unencodable(stdout, stderr)
    sys.stdout, sys.stderr = RedactingStream(stdout), RedactingStream(stderr)
    _state["streams"] = (sys.stdout, sys.stderr)
    try:
        try:
            click_command(build_app())(args=argv, prog_name="flywheel")
        finally:
            sys.stdout.flush()  # a short output meets a closed pipe only here
    except SystemExit:
        if _pipe_closed():  # click turned the BrokenPipeError into exit 1
            sys.exit(_CLOSED_PIPE)
        raise
    except FlywheelError as exc:
        from flywheel_core.schema import mask_secrets  # an error may quote the bad value: a key in a CSV cell

        _fail(f"error: {mask_secrets(str(exc))}", exc.exit_code)
    except OSError as exc:
        if _state["debug"]:
            raise
        _fail(f"error: {describe_os_error(exc)}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if _state["debug"]:
            raise
        if isinstance(exc, RuntimeError) and str(exc).startswith(_LOOP):
            # pathlib's resolve() says so before Python 3.13 (3.13 raises the OSError above): a
            # config's out_dir or --config naming a symlink loop is a path to fix, not a bug.
            _fail(f"error: {str(exc)[len(_LOOP):].strip(chr(39))}: Too many levels of symbolic links", 1)
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        for stream in strict:
            stream.reconfigure(errors="strict")
        if argv is None:  # the `flywheel` script, which exits now (a caller's main([...]) goes on)
            _skip_last_collection()


class LazyGroup(TyperGroup):
    """A typer group whose subcommands are built when used, not all of them at start-up.

    typer reads every command's options from its function's signature (evaluating each
    annotation) before it runs any: for ``flywheel --help`` that was most of the time. Made by
    :func:`click_command`, this group builds a subcommand when it runs or shows its own help
    and lists the others from their help text alone; made by typer itself, it is a TyperGroup.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names only: do not build them

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        commands = self.commands
        if isinstance(commands, _LazyCommands):
            self.commands = commands.summaries()
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.commands = commands


class _LazyCommands(MutableMapping):  # type: ignore[type-arg]
    """Command name -> click command, each built on first lookup; listing builds none."""

    def __init__(self, builders: dict[str, tuple[Callable[[], Any], Any]]) -> None:
        self.builders = builders  # name -> (build the command, a summary for listings)
        self.built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            self.built[name] = self.builders[name][0]()
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.builders[name] = (lambda: command, command)
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        del self.builders[name]
        self.built.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self.builders

    def __iter__(self) -> Iterator[str]:
        return iter(self.builders)

    def __len__(self) -> int:
        return len(self.builders)

    def summaries(self) -> dict[str, Any]:
        return {name: self.built.get(name, summary) for name, (_, summary) in self.builders.items()}


def click_command(app: typer.Typer) -> Any:
    """``app`` as a click group whose subcommands (and theirs) are built only when used."""
    from typer.main import get_install_completion_arguments
    from typer.models import TyperInfo

    group = _lazy_group(TyperInfo(app), app)
    if app._add_completion:  # what typer.main.get_command adds: --install-completion, --show-completion
        group.params.extend(get_install_completion_arguments())
    return group


def _lazy_group(info: Any, app: typer.Typer) -> Any:
    import copy

    from typer.main import get_group_from_info, solve_typer_info_defaults

    if isinstance(info.typer_instance, LazyTyper):  # its module is imported now, to build the group
        info = copy.copy(info)
        info.typer_instance = info.typer_instance.app

    options = {"pretty_exceptions_short": app.pretty_exceptions_short, "rich_markup_mode": app.rich_markup_mode,
               "suggest_commands": app.suggest_commands}
    solved = solve_typer_info_defaults(info)
    if solved.cls not in (None, LazyGroup, TyperGroup):  # a group class of its own: let typer build it all
        return get_group_from_info(info, **options)
    shell = copy.copy(info.typer_instance)
    shell.registered_commands, shell.registered_groups = [], []
    shell_info = copy.copy(info)
    shell_info.typer_instance, shell_info.cls = shell, LazyGroup
    group = get_group_from_info(shell_info, **options)  # its own options, no subcommand yet
    group.commands = _LazyCommands(_builders(info.typer_instance, app))
    return group


def _builders(typer_app: typer.Typer, app: typer.Typer) -> dict[str, tuple[Callable[[], Any], Any]]:
    """For each subcommand of ``typer_app``: how to build it, and a summary to list it by."""
    import inspect

    from typer.main import get_command_from_info, get_command_name, get_group_from_info, solve_typer_info_defaults

    options = {"pretty_exceptions_short": app.pretty_exceptions_short, "rich_markup_mode": app.rich_markup_mode}
    builders: dict[str, tuple[Callable[[], Any], Any]] = {}
    for info in typer_app.registered_commands:
        # The same name and help typer gives the command (typer.main.get_command_from_info).
        name = info.name or get_command_name(info.callback.__name__)  # type: ignore[union-attr]
        if isinstance(info.callback, LazyFunction):
            text = info.callback.summary if info.help is None else inspect.cleandoc(info.help)
        else:
            text = inspect.cleandoc(info.help) if info.help is not None else inspect.getdoc(info.callback)
        summary = TyperCommand(name=name, help=text, short_help=info.short_help, hidden=info.hidden,
                               deprecated=info.deprecated)
        builders[name] = (lambda info=info: get_command_from_info(info, **options), summary)
    for info in typer_app.registered_groups:
        if isinstance(info.typer_instance, LazyTyper):  # listed by the name and help it was added with
            summary = TyperCommand(name=info.name, help=info.help)
            builders[info.name] = (lambda info=info: _lazy_group(info, app), summary)
            continue
        solved = solve_typer_info_defaults(info)
        if not solved.name:  # typer merges a group without a name into its parent: so do we
            merged = get_group_from_info(info, suggest_commands=app.suggest_commands, **options)
            builders.update((n, (lambda c=c: c, c)) for n, c in merged.commands.items())
            continue
        summary = TyperCommand(name=solved.name, help=solved.help, short_help=solved.short_help,
                               hidden=solved.hidden, deprecated=solved.deprecated)
        builders[solved.name] = (lambda info=info: _lazy_group(info, app), summary)
    return builders


class LazyFunction:
    # A command function named by "module:function", imported when first needed. typer sees
    # the real function's signature, annotations and docstring through it (so it works however
    # the app is built); `flywheel --help` and `flywheel collect --help` list it by `summary`
    # without importing its module. Made by lazy_command. (No docstring: `__doc__` is the
    # function's, a property below.)

    def __init__(self, target: str, summary: str) -> None:
        self.target, self.summary = target, summary
        self._function: Callable[..., Any] | None = None

    @property
    def function(self) -> Callable[..., Any]:
        if self._function is None:
            from importlib import import_module

            module, _, name = self.target.partition(":")
            self._function = getattr(import_module(module), name)
        return self._function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # __signature__, __annotations__, __doc__...
        if name.startswith("__") and name not in ("__annotations__", "__name__", "__qualname__", "__globals__"):
            raise AttributeError(name)
        return getattr(self.function, name)

    @property
    def __wrapped__(self) -> Callable[..., Any]:  # inspect.signature and get_type_hints follow it
        return self.function

    @property  # type: ignore[misc]
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.function.__doc__


def lazy_command(group: typer.Typer, target: str, *, name: str, help: str) -> None:
    """Add command ``name`` to ``group``, its function ``target`` ("module:function") imported
    only when the command runs or shows its own help; ``help`` is its line in listings.

    For a plugin's ``flywheel_register_commands``: ``flywheel --help`` then imports none of
    the plugin's command modules.
    """
    group.command(name=name)(LazyFunction(target, help))


class LazyTyper:
    # A typer app named by "module:attribute" (a typer.Typer, or a function returning one),
    # imported when first needed. The lazy CLI lists it by the name and help it was added with
    # and imports it only when one of its commands runs or shows its help; typer's own
    # get_command reaches the real app through __getattr__. Made by lazy_group.

    def __init__(self, target: str) -> None:
        self.target = target
        self._app: typer.Typer | None = None

    @property
    def app(self) -> typer.Typer:
        if self._app is None:
            from importlib import import_module

            module, _, name = self.target.partition(":")
            found = getattr(import_module(module), name)
            self._app = found if isinstance(found, typer.Typer) else found()
        return self._app

    def __getattr__(self, name: str) -> Any:  # registered_commands, registered_callback, info...
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.app, name)


def lazy_group(group: typer.Typer, target: str, *, name: str, help: str) -> None:
    """Add the command group ``name`` to ``group``: the typer app ``target`` ("module:attribute",
    a ``typer.Typer`` or a function returning one), imported only when one of its commands runs
    or shows its help; ``help`` is its line in listings and the top of its own help.

    For a plugin's ``flywheel_register_commands``: ``flywheel --help`` and every other command
    then import none of the group's module.
    """
    group.add_typer(LazyTyper(target), name=name, help=help)  # type: ignore[arg-type]


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    # What json.dumps(ensure_ascii=True) writes for the characters the terminal's encoding
    # lacks: \uXXXX (a surrogate pair above U+FFFF). --json output stays valid JSON meaning the
    # same; text degrades to the same escapes instead of ending in a UnicodeEncodeError.
    import json

    if not isinstance(error, UnicodeEncodeError):
        raise error
    return json.dumps(error.object[error.start:error.end])[1:-1], error.end


def _escape_unencodable(*streams: Any) -> list[Any]:
    """Make each strict text stream (``PYTHONIOENCODING=ascii``) escape what it cannot encode;
    return those changed, for :func:`main` to set back."""
    import codecs

    codecs.register_error("flywheel-json-escape", _json_escape)
    changed = []
    for stream in streams:
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="flywheel-json-escape")
            changed.append(stream)
    return changed


def _skip_last_collection() -> None:
    """Leave what is in memory out of the garbage collection Python makes as it exits.

    That last collection walks every object left (each module imported, every template and
    schema): about 30 ms of CPU after a `flywheel run` of one session, an eighth of the whole
    process, to free memory the exit frees anyway. Frozen objects are skipped; files are still
    closed, atexit handlers and weakref finalizers still run.
    """
    import gc

    gc.freeze()


# What git and coreutils exit with when the reader of their output goes away (128 + SIGPIPE):
# quietly, and `set -o pipefail` can still tell it from a failure.
_CLOSED_PIPE = 141


def _pipe_closed() -> bool:
    return any(getattr(stream, "pipe_closed", False) for stream in _state.get("streams", ()))


_LOOP = "Symlink loop from "


def _fail(message: str, code: int) -> None:
    if _pipe_closed():  # nobody reads on: no message, like `git log | head -1`
        sys.exit(_CLOSED_PIPE)
    # One line, whatever the message holds (a plugin's multi-line exception, a long value).
    line = " ".join(message.split())
    print(f"flywheel: {line[:2000]}", file=sys.stderr)
    sys.exit(code)
