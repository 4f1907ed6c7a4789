"""The `hub` command line: thin wiring of the sub-command modules."""
from __future__ import annotations

import typer

from hub import cli_identity, cli_ops, cli_review, cli_serving, cli_silos, cli_status

app = typer.Typer(
    name="hub",
    help="Customer Hub: sync departmental silos, resolve identities, serve one unified customer.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    log_format: str = typer.Option(None, "--log-format", envvar="HUB_LOG_FORMAT",
                                   help="Pipeline logs on stderr: text (default) or json (one object per line)."),
) -> None:
    """Customer Hub: sync departmental silos, resolve identities, serve one unified customer."""
    from pipelines.logs import configure_logging

    try:
        configure_logging(log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from exc


app.add_typer(cli_silos.app, name="silos", help="List, check and create silo config files.")
app.add_typer(cli_status.rejected_app, name="rejected", help="Rejected rows: list them, re-process them after a fix.")
# Identity and serving commands are top-level verbs (`hub resolve`, `hub lookup` ...).
for sub in (cli_ops.app, cli_status.app, cli_identity.app, cli_review.app, cli_serving.app):
    for command in sub.registered_commands:
        app.registered_commands.append(command)


if __name__ == "__main__":
    app()
