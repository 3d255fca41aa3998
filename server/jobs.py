"""Command-line jobs: ``flask --app server seed | reconcile | close-expired`` (and the refund
commands of ``refund_commands.py``).

``reconcile`` catches payments whose notification never arrived; ``close-expired`` closes
orders nobody paid, with WeChat first, so they cannot be paid after we gave up on them. Run
both every few minutes (deploy/systemd has a timer).
"""
from datetime import timedelta

import click
from flask import current_app

from . import payments, refund_commands, shipping_commands
from .clients import gateway
from .extensions import db
from .models import Order, utcnow
from .catalogue import seed_catalogue
from .wechatpay.errors import WeChatPayError

CLOSE_NOT_BEFORE = payments.CLOSE_NOT_BEFORE


def init_app(app):
    app.cli.add_command(seed)
    app.cli.add_command(reconcile)
    app.cli.add_command(close_expired)
    app.cli.add_command(shipping_commands.group)
    refund_commands.init_app(app)


@click.command()
@click.option("--dev", is_flag=True,
              help="also the one-fen test item (development and go-live testing only)")
def seed(dev):
    """Load the demo catalogue (adds only missing products)."""
    click.echo(f"added {seed_catalogue(dev=dev)} products")


@click.command()
@click.option("--older-than", default=60, help="only orders placed this many seconds ago")
def reconcile(older_than):
    """Query WeChat about unpaid orders and apply what it says."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    orders = db.session.execute(db.select(Order).where(
        Order.status == Order.NOTPAY, Order.prepay_id.is_not(None),
        Order.created_at <= cutoff)).scalars().all()
    counts = {}
    for order in orders:
        outcome = _query(order)
        counts[outcome] = counts.get(outcome, 0) + 1
    click.echo(f"reconciled {len(orders)} orders: {counts}")
    # Refunds converge the same way: sent again while PENDING, queried while PROCESSING.
    click.echo(f"refunds: {refund_commands.sweep(older_than)}")


@click.command("close-expired")
def close_expired():
    """Close unpaid orders past their time_expire, with WeChat first."""
    now = utcnow()
    orders = db.session.execute(db.select(Order).where(
        Order.status == Order.NOTPAY, Order.time_expire <= now,
        Order.created_at <= now - CLOSE_NOT_BEFORE)).scalars().all()
    closed = 0
    for order in orders:
        try:
            outcome = payments.close_order(order, gateway(), current_app.config["WECHAT_APPID"],
                                           current_app.config["WECHATPAY_MCHID"])
        except (WeChatPayError, payments.PaymentMismatch) as exc:
            db.session.rollback()
            current_app.logger.warning("close %s failed: %s", order.out_trade_no,
                                       getattr(exc, "code", exc))
            continue
        closed += outcome == "closed"
    click.echo(f"closed {closed} of {len(orders)} expired orders")


def _query(order):
    try:
        return payments.apply_query(order, gateway(), current_app.config["WECHAT_APPID"],
                                    current_app.config["WECHATPAY_MCHID"])
    except (WeChatPayError, payments.PaymentMismatch) as exc:
        db.session.rollback()
        current_app.logger.warning("query %s failed: %s", order.out_trade_no,
                                   getattr(exc, "code", exc))
        return "failed"
