"""Command-line jobs: ``flask --app server seed | reconcile | close-expired`` (and the refund
commands of ``refund_commands.py``).

``reconcile`` catches payments whose notification never arrived; ``close-expired`` closes
orders nobody paid, with WeChat first, so they cannot be paid after we gave up on them. Run
both every few minutes (deploy/systemd has a timer).

Both are bounded (a few calls to WeChat at a time, and a deadline per run, so a slow WeChat
cannot push a run past its systemd timeout) and safe to run on several machines at once: one
run of each job at a time (``jobrun.exclusive``), so no order is queried or closed twice.
"""

from datetime import timedelta

import click
from flask import current_app

from . import bills_cli, payments, refund_commands, shipping_commands
from .catalogue import seed_catalogue
from .clients import gateway
from .extensions import db
from .jobrun import bounded, exclusive
from .models import Order, utcnow
from .wechatpay.core.errors import WeChatPayError

CLOSE_NOT_BEFORE = payments.CLOSE_NOT_BEFORE


def init_app(app):
    app.cli.add_command(seed)
    app.cli.add_command(reconcile)
    app.cli.add_command(close_expired)
    app.cli.add_command(shipping_commands.group)
    refund_commands.init_app(app)
    app.cli.add_command(bills_cli.bills_group)


@click.command()
@click.option(
    "--dev", is_flag=True, help="also the one-fen test item (development and go-live testing only)"
)
def seed(dev):
    """Load the demo catalogue (adds only missing products)."""
    click.echo(f"added {seed_catalogue(dev=dev)} products")


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


@click.command()
@click.option("--older-than", default=60, help="only orders placed this many seconds ago")
@bounds
def reconcile(older_than, concurrency, deadline):
    """Query WeChat about unpaid orders and apply what it says."""
    with exclusive("reconcile") as ours:
        if not ours:
            click.echo("reconcile is running on another instance; skipped")
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
        )
        click.echo(f"reconciled {sum(counts.values())} orders: {counts}{deadline_note(finished)}")
        # Refunds converge the same way: sent again while PENDING, queried while PROCESSING.
        click.echo(f"refunds: {refund_commands.sweep(older_than)}")


@click.command("close-expired")
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
                    Order.time_expire <= now,
                    Order.created_at <= now - CLOSE_NOT_BEFORE,
                )
                .order_by(Order.id)
            )
            .scalars()
            .all()
        )
        counts, finished = bounded(ids, _close, concurrency=concurrency, deadline=deadline)
    click.echo(
        f"closed {counts.get('closed', 0)} of {sum(counts.values())} expired orders"
        f"{deadline_note(finished)}"
    )


def _close(order_id):
    order = db.session.get(Order, order_id)
    try:
        return payments.close_order(
            order,
            gateway(),
            current_app.config["WECHAT_APPID"],
            current_app.config["WECHATPAY_MCHID"],
        )
    except (WeChatPayError, payments.PaymentMismatch) as exc:
        db.session.rollback()
        current_app.logger.warning(
            "close %s failed: %s", order.out_trade_no, getattr(exc, "summary", None) or exc.code
        )
        return "failed"


def _query(order):
    try:
        return payments.apply_query(
            order,
            gateway(),
            current_app.config["WECHAT_APPID"],
            current_app.config["WECHATPAY_MCHID"],
        )
    except (WeChatPayError, payments.PaymentMismatch) as exc:
        db.session.rollback()
        current_app.logger.warning(
            "query %s failed: %s", order.out_trade_no, getattr(exc, "summary", exc)
        )
        return "failed"
