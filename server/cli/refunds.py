"""The shop's refund commands, until (and beside) the staff console:

    flask --app server refund ORDER_ID --amount FEN --reason TEXT
    flask --app server refund-requests list | approve ID [--amount FEN] | reject ID [--note]
    flask --app server refunds list [--order ID] | sync | abnormal | apply-abnormal OUT_REFUND_NO

Every command calls ``server.domain.refunds``, the same functions as the API and the console.
``payments sync`` (the periodic job) also runs ``refunds sync``.
"""

import getpass
from datetime import timedelta

import click

from ..channels import payment_context
from ..domain import refunds
from ..errors import DomainError
from ..extensions import db
from ..models import Order, Refund, RefundRequest
from ..wechatpay.core.errors import Unsupported, WeChatPayError
from . import common


def _by(value):
    return value or f"cli:{getpass.getuser()}"


def _show(refund_row):
    line = (
        f"refund {refund_row.id} {refund_row.out_refund_no} order {refund_row.order_id} "
        f"{refund_row.amount} fen {refund_row.status}"
    )
    if refund_row.status == Refund.PENDING:
        line += " (WeChat Pay did not answer; `flask --app server refunds sync` sends it again)"
    if refund_row.error_code and refund_row.status in (Refund.FAILED, Refund.PENDING):
        line += f" [{refund_row.error_code}] {refund_row.error_message or ''}"
    return line


@common.command("refund")
@click.argument("order_id", type=int)
@click.option("--amount", type=int, required=True, help="fen to refund")
@click.option("--reason", required=True, help="why (WeChat shows it to the payer; <= 80)")
@click.option("--by", help="who asks (default: cli:<your login>)")
def refund_command(order_id, amount, reason, by):
    """Refund AMOUNT fen of a paid order."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise DomainError("ORDER_NOT_FOUND", f"no order {order_id}")
    context = payment_context(order)  # the order's merchant, API version and refund notify URL
    refund_row = refunds.refund(
        order,
        amount,
        reason,
        _by(by),
        gateway=context.gateway,
        notify_url=context.refund_notify_url,
    )
    _done_or_exit(refund_row)


def _done_or_exit(refund_row):
    """Print the refund; exit 1 when WeChat refused it, 75 when WeChat did not answer (it stays
    PENDING and ``refunds sync`` sends it again)."""
    click.echo(_show(refund_row))
    if refund_row.status == Refund.FAILED:
        raise common.Refused(refund_row.error_code or "REFUND_FAILED", "WeChat Pay refused it")
    if refund_row.status == Refund.PENDING:
        raise common.TryLater(
            refund_row.error_code or "WECHATPAY_UNAVAILABLE",
            "WeChat Pay did not answer; `refunds sync` sends it again",
        )


@common.group("refund-requests")
def refund_requests():
    """Users' refund requests: list, approve, reject."""


@refund_requests.command("list")
@click.option("--all", "show_all", is_flag=True, help="decided ones too")
def list_requests(show_all):
    query = db.select(RefundRequest).order_by(RefundRequest.id)
    if not show_all:
        query = query.where(RefundRequest.status == RefundRequest.PENDING)
    found = db.session.execute(query).scalars().all()
    for request in found:
        order = db.session.get(Order, request.order_id)
        click.echo(
            f"request {request.id} order {order.id} ({order.out_trade_no}, "
            f"{order.total} fen, {refunds.refundable(order)} refundable) "
            f"{request.status}: {request.reason}"
        )
    click.echo(f"{len(found)} {'' if show_all else 'pending '}refund requests")


@refund_requests.command("approve")
@click.argument("request_id", type=int)
@click.option("--amount", type=int, help="fen to refund (default: all that is left)")
@click.option("--note", default="", help="shown to the user")
@click.option("--by", help="who approves (default: cli:<your login>)")
def approve(request_id, amount, note, by):
    """Approve a request: the refund is placed with WeChat Pay."""
    refund_row = refunds.approve_request(
        request_id, _by(by), note, context_for=payment_context, amount=amount
    )
    click.echo(f"approved request {request_id}:")
    _done_or_exit(refund_row)


@refund_requests.command("reject")
@click.argument("request_id", type=int)
@click.option("--note", default="", help="why (shown to the user)")
@click.option("--by", help="who rejects (default: cli:<your login>)")
def reject(request_id, note, by):
    """Reject a request."""
    refunds.reject_request(request_id, _by(by), note)
    click.echo(f"rejected request {request_id}")


@common.group("refunds")
def refunds_group():
    """Refunds: list, sync with WeChat Pay, handle ABNORMAL ones."""


@refunds_group.command("list")
@click.option("--order", "order_id", type=int, help="only this order's")
@click.option(
    "--status",
    type=click.Choice(["PENDING", "PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL", "FAILED"]),
)
def list_refunds(order_id, status):
    query = db.select(Refund).order_by(Refund.id)
    if order_id:
        query = query.where(Refund.order_id == order_id)
    if status:
        query = query.where(Refund.status == status)
    found = db.session.execute(query).scalars().all()
    for refund_row in found:
        click.echo(_show(refund_row))
    click.echo(f"{len(found)} refunds")


@refunds_group.command("sync")
@click.option("--older-than", default=60, help="only refunds untouched this many seconds")
def sync(older_than):
    """Send PENDING refunds again and query PROCESSING ones (the periodic job does this)."""
    counts = sweep(older_than)
    click.echo(f"refunds: {counts}")
    common.exit_for_job(counts, failed=REFUNDS_NOT_DONE)


# Outcomes of the refund sweep that leave work for its next run: no answer from WeChat yet, or
# an error (a refund WeChat refused, "failed", is done: it waits for a person, not a retry).
REFUNDS_NOT_DONE = ("pending", "error")


def sweep(older_than):
    """Each refund with its order's gateway (a refund of an order whose merchant has no
    settings here counts as failed, logged)."""
    return refunds.sweep(timedelta(seconds=older_than), context_for=payment_context)


@refunds_group.command("abnormal")
def abnormal():
    """ABNORMAL refunds, and what to do about each."""
    found = (
        db.session.execute(
            db.select(Refund).where(Refund.status == Refund.ABNORMAL).order_by(Refund.id)
        )
        .scalars()
        .all()
    )
    for refund_row in found:
        click.echo(_show(refund_row) + f", to {refund_row.user_received_account or '?'}")
    click.echo(f"{len(found)} ABNORMAL refunds")
    if found:
        click.echo(
            "WeChat Pay could not pay these back (the payer's card or account was closed or "
            "frozen). Ask the payer for a bank card and run\n"
            "  flask --app server refunds apply-abnormal OUT_REFUND_NO --type USER_BANK_CARD "
            "--bank-type ... --bank-account ... --real-name ...\n"
            "or refund to the merchant's bank card and pay the user yourself:\n"
            "  flask --app server refunds apply-abnormal OUT_REFUND_NO --type MERCHANT_BANK_CARD"
            "\n(API v2: handle them on the merchant platform, pay.weixin.qq.com.)"
        )


@refunds_group.command("apply-abnormal")
@click.argument("out_refund_no")
@click.option(
    "--type", "kind", required=True, type=click.Choice(["USER_BANK_CARD", "MERCHANT_BANK_CARD"])
)
@click.option("--bank-type", help="the user's bank (USER_BANK_CARD)")
@click.option("--bank-account", help="the user's card number (sent encrypted, never logged)")
@click.option("--real-name", help="the card holder's name (sent encrypted, never logged)")
@click.option("--by", help="who decides (default: cli:<your login>)")
def apply_abnormal(out_refund_no, kind, bank_type, bank_account, real_name, by):
    """Send an ABNORMAL refund again to a bank card (API v3)."""
    refund_row = db.session.execute(
        db.select(Refund).filter_by(out_refund_no=out_refund_no)
    ).scalar_one_or_none()
    if refund_row is None:
        raise DomainError("REFUND_NOT_FOUND", f"no refund {out_refund_no}")
    gw = payment_context(db.session.get(Order, refund_row.order_id)).gateway
    try:
        refund_row = refunds.apply_abnormal_refund(
            refund_row,
            kind,
            _by(by),
            gateway=gw,
            bank_type=bank_type,
            bank_account=bank_account,
            real_name=real_name,
        )
    except Unsupported:
        raise click.ClickException(
            f"API {gw.api_version} has no such call: use the merchant platform"
        ) from None
    except WeChatPayError as exc:
        raise common.wechat_failure(exc) from None
    click.echo(_show(refund_row))


COMMANDS = (refund_command, refund_requests, refunds_group)
