"""How commands are made here, one way: ``@common.command`` and ``@common.group`` (click's, run
in the app's context, with a DomainError turned into ``Error: CODE: message`` and exit status 1),
and ``alias`` for a command's old name."""

import functools

import click
from flask import current_app
from flask.cli import ScriptInfo

from ..errors import DomainError


class Command(click.Command):
    """A command that runs in the app's context (under ``flask``, which pushes one, and under
    click's test runner alike). What the domain refuses is one line on stderr, ``Error: CODE:
    message``, and exit status 1: the one place the CLI turns a DomainError into its form."""

    def invoke(self, ctx):
        if not current_app:
            ctx.with_resource(ctx.ensure_object(ScriptInfo).load_app().app_context())
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None


class Group(click.Group):
    """A group whose commands are ``Command``s."""

    command_class = Command
    group_class = type  # subgroups are of this class too


command = functools.partial(click.command, cls=Command)
group = functools.partial(click.group, cls=Group)


def alias(original, name):
    """``original`` under an old ``name``: it works as before (scripts, timers), and
    ``flask --help`` lists only the new name."""
    return Command(
        name,
        callback=original.callback,
        params=original.params,
        help=original.help,
        short_help=original.short_help,
        hidden=True,
    )
