"""``flask --app server payments sync | close-expired``: the periodic payment jobs.

``payments sync`` asks WeChat about unpaid orders whose notification never arrived and applies
what it says, then sends unanswered refunds again and queries unsettled ones (as ``refunds
sync``); ``payments close-expired`` closes orders nobody paid, with WeChat first, so they cannot
be paid after we gave up on them. Run both every few minutes (deploy/systemd has a timer).
Their old names, ``flask reconcile`` and ``flask close-expired``, still work (hidden from
``--help``): "reconcile" now means only the daily check of WeChat's bill (``flask bills
reconcile``).

Both are bounded (a few calls to WeChat at a time, and a deadline per run, so a slow WeChat
cannot push a run past its systemd timeout) and safe to run on several machines at once: one
run of each job at a time (``domain.jobs.exclusive``), so no order is queried or closed twice.
"""

from datetime import timedelta

import click
from flask import current_app

from .. import cashier
from ..channels import payment_context
from ..domain import payments
from ..domain.jobs import bounded, exclusive
from ..errors import DomainError
from ..extensions import db
from ..models import Order
from ..timeutil import utcnow
from ..wechatpay.core.errors import WeChatPayError
from . import common
from .refunds import REFUNDS_NOT_DONE, sweep

CLOSE_NOT_BEFORE = payments.CLOSE_NOT_BEFORE


@common.group("payments")
def group():
    """Payments with WeChat: sync unpaid orders, close expired ones (the periodic jobs)."""


def bounds(command):
    """The options every WeChat-calling job takes."""
    command = click.option(
        "--concurrency", default=4, show_default=True, help="calls to WeChat in flight at once"
    )(command)
    return click.option(
        "--deadline",
        default=180,
        show_default=True,
        help="seconds; no new call to WeChat starts after it",
    )(command)


def deadline_note(finished):
    return "" if finished else "; stopped at the deadline, the rest is left for the next run"


@group.command("sync")
@click.option("--older-than", default=60, help="only orders placed this many seconds ago")
@bounds
def sync(older_than, concurrency, deadline):
    """Query WeChat about unpaid orders and apply what it says; then sync refunds."""
    # The lock keeps the job's old name: instances still on the old code take the same one.
    with exclusive("reconcile") as ours:
        if not ours:
            click.echo("payments sync is running on another instance; skipped")
            return
        cutoff = utcnow() - timedelta(seconds=older_than)
        ids = (
            db.session.execute(
                db.select(Order.id)
                .where(
                    Order.status == Order.NOTPAY,
                    Order.prepay_id.is_not(None),
                    Order.created_at <= cutoff,
                )
                .order_by(Order.id)
            )
            .scalars()
            .all()
        )
        counts, finished = bounded(
            ids,
            lambda order_id: _query(db.session.get(Order, order_id)),
            concurrency=concurrency,
            deadline=deadline,
            context=current_app._get_current_object().app_context,
        )
        click.echo(f"reconciled {sum(counts.values())} orders: {counts}{deadline_note(finished)}")
        # Refunds converge the same way: sent again while PENDING, queried while PROCESSING.
        refund_counts = sweep(older_than)
        click.echo(f"refunds: {refund_counts}")
    # The counter's loops left open (a worker killed, a restart), under a lock of their own.
    swept = cashier.sweep(concurrency, deadline)
    click.echo(
        "counter: "
        + (
            "running on another instance; skipped"
            if swept is None
            else f"{swept[0]}{deadline_note(swept[1])}"
        )
    )
    common.exit_for_job(counts)
    common.exit_for_job(refund_counts, failed=REFUNDS_NOT_DONE)


@group.command("close-expired")
@bounds
def close_expired(concurrency, deadline):
    """Close unpaid orders past their time_expire, with WeChat first."""
    with exclusive("close-expired") as ours:
        if not ours:
            click.echo("close-expired is running on another instance; skipped")
            return
        now = utcnow()
        ids = (
            db.session.execute(
                db.select(Order.id)
                .where(
                    Order.status == Order.NOTPAY,
                    # A payment-code order is settled by its own loop (reverse, not close).
                    Order.trade_type != "MICROPAY",
                    Order.time_expire <= now,
                    Order.created_at <= now - CLOSE_NOT_BEFORE,
                )
                .order_by(Order.id)
            )
            .scalars()
            .all()
        )
        counts, finished = bounded(
            ids,
            _close,
            concurrency=concurrency,
            deadline=deadline,
            context=current_app._get_current_object().app_context,
        )
    click.echo(
        f"closed {counts.get('closed', 0)} of {sum(counts.values())} expired orders"
        f"{deadline_note(finished)}"
    )
    common.exit_for_job(counts)


# Also under their names from before the payments group, which timers and scripts still use.
COMMANDS = (group, common.alias(sync, "reconcile"), common.alias(close_expired, "close-expired"))


def _close(order_id):
    order = db.session.get(Order, order_id)
    try:  # with WeChat as the order was placed: its merchant, API version and appid
        return payments.close_order(order, payment_context(order).gateway)
    except (WeChatPayError, DomainError) as exc:  # PaymentMismatch, PAYMENTS_NOT_CONFIGURED
        db.session.rollback()
        current_app.logger.warning(
            "close %s failed: %s", order.out_trade_no, getattr(exc, "summary", None) or exc.code
        )
        return "failed"


def _query(order):
    try:  # with WeChat as the order was placed: its merchant, API version and appid
        return payments.apply_query(order, payment_context(order).gateway)
    except (WeChatPayError, DomainError) as exc:  # PaymentMismatch, PAYMENTS_NOT_CONFIGURED
        db.session.rollback()
        current_app.logger.warning(
            "query %s failed: %s", order.out_trade_no, getattr(exc, "summary", None) or exc.code
        )
        return "failed"
