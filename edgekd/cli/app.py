"""Typer app: global options, the one error boundary, and the sub-commands.

Exit codes: 0 success; 1 a failed gate (``edgekd check``) or an unexpected internal error; 2 bad input or usage;
130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Every error is one line on stderr; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import importlib
import signal
import sys
from typing import NoReturn

import typer

from edgekd import __version__
from edgekd.cli import commands
from edgekd.cli.common import err
from edgekd.errors import EdgekdError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Turn a trained teacher into a verified, profiled tiny student for a named edge device.")
state = {"debug": False}

USAGE, INTERRUPTED, TERMINATED = 2, 130, 143


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgekd {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    state["debug"] = debug


commands.register(app)


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """ClickException from typer's vendored click (typer >= 0.29) and from click itself (older typer)."""
    found = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(name).ClickException)
        except ImportError:
            continue
    return tuple(found)


def one_line(text: object) -> str:
    """``text`` with its whitespace runs (newlines included) folded to single spaces."""
    return " ".join(str(text).split())


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[red]error:[/red] {one_line(message)}", highlight=False, soft_wrap=True, markup=True)
    sys.exit(code)


def _usage(e: BaseException) -> NoReturn:
    """A usage error as one line naming the command's --help."""
    ctx = getattr(e, "ctx", None)
    where = ctx.command_path if ctx is not None else "edgekd"
    if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
        typer.echo(ctx.get_help())
        _fail(f"{where}: no command or arguments given; choose from the help above", USAGE)
    message = e.format_message() if hasattr(e, "format_message") else str(e)
    _fail(f"{message} (see '{where} --help')", int(getattr(e, "exit_code", USAGE)) or USAGE)


def _is_validation_error(e: BaseException) -> bool:
    return type(e).__module__.startswith("pydantic") and hasattr(e, "errors")


def _validation_message(e: BaseException) -> str:
    """pydantic's first error as 'option: problem' (options are the library names of CLI flags)."""
    first = e.errors()[0]  # type: ignore[attr-defined]
    where = ".".join(str(p) for p in first.get("loc", ())) or getattr(e, "title", "value")
    more = e.error_count() - 1  # type: ignore[attr-defined]
    return f"{where}: {first['msg']}" + (f" (and {more} more)" if more > 0 else "") + "; see the command's --help"


def _interrupted(e: BaseException) -> bool:
    """True when Ctrl-C caused ``e``: Python wraps an interrupt raised inside class creation during an import
    (``__set_name__``) or inside some library callbacks in another exception, with the interrupt as its cause."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _aborted() -> NoReturn:
    err.print("aborted")
    sys.exit(INTERRUPTED)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(TERMINATED)


def main() -> None:
    """Console-script entry point: the error boundary that maps every failure to one line and an exit code."""
    state["debug"] = "--debug" in sys.argv[1:]
    signal.signal(signal.SIGTERM, _terminate)  # SIGTERM unwinds like Ctrl-C: temp files are removed
    try:
        rc = app(standalone_mode=False)
    except EdgekdError as e:  # bad input (2), or a failed gate (GateFailure: 1)
        if _interrupted(e):  # a library wrapped the interrupt it met while reading input
            _aborted()
        if state["debug"]:
            raise
        _fail(str(e), getattr(e, "exit_code", USAGE))
    except (KeyboardInterrupt, typer.Abort):
        _aborted()
    except _usage_error_types() as e:
        _usage(e)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        if state["debug"]:
            raise
        _fail(f"{e.strerror or e}: {e.filename}; check the path and its permissions", USAGE)
    except SystemExit:
        raise
    except Exception as e:  # anything truly unexpected: a bug, not the user's input
        if _interrupted(e):
            _aborted()
        if state["debug"]:
            raise
        if _is_validation_error(e):  # a library options model refused a value the user gave
            _fail(_validation_message(e), USAGE)
        _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback and report it)", 1)
    if rc == INTERRUPTED:  # typer turns Ctrl-C inside a command into Exit(130)
        err.print("aborted")
    sys.exit(rc if isinstance(rc, int) else 0)
