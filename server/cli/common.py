"""How commands are made here, one way: ``@common.command`` and ``@common.group`` (click's, run
in the app's context, with a DomainError turned into ``Error: CODE: message`` and exit status 1),
and ``alias`` for a command's old name.

Exit statuses, the contract scripts and timers rely on (docs/operations.md): 0 done; 1 refused
(by the shop's rules, a DomainError, or by WeChat); 2 a usage error (click's own); 75
(EX_TEMPFAIL) not done yet, try again later: WeChat was unreachable or gave no trustworthy
answer, and what was asked is recorded for the job that finishes it.
"""

import functools

import click
from flask import current_app
from flask.cli import ScriptInfo

from ..errors import DomainError
from ..wechatpay.core.errors import ApiError, WeChatPayError

EX_TEMPFAIL = 75  # sysexits.h: "temporary failure; the user is invited to retry"


class Refused(click.ClickException):
    """``Error: CODE: message`` on stderr, exit status 1."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")


class TryLater(click.ClickException):
    """``Error: CODE: message`` on stderr, exit status 75: not done yet, not refused."""

    exit_code = EX_TEMPFAIL

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")


def wechat_failure(exc):
    """The exception a command raises for a WeChatPayError: WeChat's refusal (an error answer it
    does not call temporary) is 1; no answer, a 5xx or "try again" is 75."""
    if isinstance(exc, ApiError) and not exc.retryable and (exc.http_status or 0) < 500:
        return Refused(exc.code, exc.message)
    return TryLater(exc.code, exc.message)


def exit_for_job(*counts, failed=("failed",)):
    """A periodic job ran through its {outcome: count}s: exit 75 when some items failed this
    time (WeChat did not answer, or refused something that now waits for a person), as the
    outcomes named ``failed`` and any ``error:<code>`` count them; the next run tries again."""
    if any(k in failed or k.startswith("error:") for c in counts for k, n in c.items() if n):
        raise click.exceptions.Exit(EX_TEMPFAIL)


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
            raise Refused(exc.code, exc.message) from None
        except WeChatPayError as exc:  # one the command did not handle itself
            raise wechat_failure(exc) from None


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
