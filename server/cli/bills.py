"""``flask --app server bills reconcile | resolve``: the daily reconciliation from a shell.

Exit codes, for the systemd unit that runs it daily (deploy/systemd/wxpay-bills.*):
0 the day was reconciled (the report says whether anything differs), 75 (EX_TEMPFAIL) the bill
is not ready or WeChat could not be reached: try again later, 1 the bill could not be trusted
(hash mismatch, malformed): nothing was kept, the run says why; 1 too when payments are not
configured. Each merchant the channels collect for has its own bill and run; with several, the
exit code is the worst of theirs.
"""

import sys
from datetime import date, timedelta

import click

from ..channels import merchant_gateways, payment_context
from ..domain import bills
from ..domain.jobs import exclusive
from ..errors import DomainError
from ..wechatpay.core.errors import ApiError, BillNotReady, InvalidResponse, WeChatPayError
from . import common

EX_TEMPFAIL = 75


@common.group("bills")
def group():
    """Daily bills: reconcile a day against WeChat's bill, resolve differences."""


def _day(value):
    today = bills.beijing_today()
    if value in (None, ""):
        return today - timedelta(days=1)
    if value == "today":
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD or today") from None


@group.command("reconcile")
@click.option(
    "--date",
    "day",
    default=None,
    help="Beijing day YYYY-MM-DD or 'today' (default: yesterday in Beijing)",
)
def reconcile_command(day):
    """Download the day's bills, compare them with our records, print the report: each
    merchant's bill (the channels' merchants) against that merchant's orders."""
    day = _day(day)
    merchants = merchant_gateways()  # PAYMENTS_NOT_CONFIGURED: exit status 1
    with exclusive("bills-reconcile") as ours:
        if not ours:  # the timer's run and one by hand must not interleave
            click.echo("another reconciliation is running; try again later")
            sys.exit(EX_TEMPFAIL)
        several = len(merchants) > 1
        statuses = [
            _reconcile(day, gw, f" of merchant {mchid}" if several else "")
            for mchid, gw in merchants
        ]
    # The worst: a bill refused (1) before one to try again (75) before all reconciled (0).
    sys.exit(1 if 1 in statuses else EX_TEMPFAIL if EX_TEMPFAIL in statuses else 0)


def _reconcile(day, gw, merchant):
    try:
        run = bills.reconcile(day, gateway=gw, gateway_for=_gateway_for)
    except BillNotReady as exc:
        click.echo(f"bill of {day}{merchant} is not ready yet ({exc.message}); try again later")
        return EX_TEMPFAIL
    except (DomainError, InvalidResponse, ApiError) as exc:  # hash mismatch among them
        click.echo(f"bill of {day}{merchant} refused, nothing kept: {exc.code}: {exc.message}")
        return 1
    except WeChatPayError as exc:  # timeouts, connection failures
        click.echo(
            f"WeChat Pay unreachable for the bill of {day}{merchant}: {exc.code}; try again later"
        )
        return EX_TEMPFAIL
    click.echo(bills.report(run))
    return 0


def _gateway_for(order):
    return payment_context(order).gateway


@group.command("resolve")
@click.argument("diff_id", type=int)
@click.option("--note", required=True, help="what was done about it")
@click.option("--by", default="cli", help="who resolved it")
def resolve_command(diff_id, note, by):
    """Mark a difference resolved, with a note."""
    diff = bills.resolve_difference(diff_id, by, note)
    click.echo(f"#{diff.id} {diff.kind} resolved by {diff.resolved_by}: {diff.note}")


COMMANDS = (group,)
