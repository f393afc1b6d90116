"""Every sub-command, registered on the app in one place: adding a command is one module and one line."""

from __future__ import annotations

import typer

from edgekd.cli import check_cmd, compile_cmd, distill_cmd, package_cmd, profile_cmd, run_cmd, targets_cmd, verify_cmd
from edgekd.cli import search_cmd, sentence_cmd


def register(app: typer.Typer) -> None:
    app.add_typer(targets_cmd.app, name="targets")
    app.command("compile")(compile_cmd.compile_command)
    app.command("profile")(profile_cmd.profile_command)
    app.command("run")(run_cmd.run_command)
    app.command("distill")(distill_cmd.distill_command)
    app.command("package")(package_cmd.package_command)
    app.command("check")(check_cmd.check_command)
    app.command("verify")(verify_cmd.verify_command)
    app.command("search")(search_cmd.search_command)
    app.add_typer(sentence_cmd.app, name="sentence")
