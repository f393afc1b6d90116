"""Typer app: global options, error handling, and the sub-commands."""

from __future__ import annotations

import sys

import typer

from edgekd import __version__
from edgekd.cli import commands
from edgekd.cli.common import err
from edgekd.errors import EdgekdError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Turn a trained teacher into a verified, profiled tiny student for a named edge device.")
state = {"debug": False}


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


def main() -> None:
    """Console-script entry point: user errors -> one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except EdgekdError as e:
        if state["debug"]:
            raise
        err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as e:  # click usage errors and anything unexpected
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if state["debug"]:
            raise
        err.print(f"[red]error:[/red] {type(e).__name__}: {e} (rerun with --debug for a traceback)", highlight=False, soft_wrap=True)
        sys.exit(1)
