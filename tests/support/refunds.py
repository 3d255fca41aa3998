"""Helpers for the refund tests: refunds through the domain on a real stack, read back."""

import requests

from server.channels import payment_context
from server.domain import refunds
from server.extensions import db
from server.models import Order, Refund
from tests.support import wait_for


def place_refund(stack, order_id, amount, reason="test refund"):
    """refunds.refund() on a session of its own (as a CLI run or a request would), with the
    order's gateway and refund notify URL (``channels.payment_context``)."""
    with stack.app.app_context():
        order = db.session.get(Order, order_id)
        context = payment_context(order)
        row = refunds.refund(
            order,
            amount,
            reason,
            "test",
            gateway=context.gateway,
            notify_url=context.refund_notify_url,
        )
        return row.to_json()


def refund_statuses(stack, order_id):
    return [
        status
        for (status,) in stack.query(
            "SELECT status FROM refunds WHERE order_id = :id ORDER BY id", id=order_id
        )
    ]


def wait_refund(stack, out_refund_no, status):
    wait_for(
        lambda: (
            stack.query("SELECT status FROM refunds WHERE out_refund_no = :no", no=out_refund_no)
            == [(status,)]
        )
    )


def order_status(stack, order_id):
    return stack.query("SELECT status FROM orders WHERE id = :id", id=order_id)[0][0]


def wechat_refunds(stack, out_trade_no):
    """The refunds the simulator (WeChat) holds for an order."""
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"]["refunds"]


def cli_result(stack, *args):
    """(exit code, output) of a flask command that may fail."""
    with stack.app.app_context():
        result = stack.app.test_cli_runner().invoke(args=[str(a) for a in args])
    return result.exit_code, result.output


def refund_row(stack, out_refund_no):
    with stack.app.app_context():
        return (
            db.session.execute(db.select(Refund).filter_by(out_refund_no=out_refund_no))
            .scalar_one()
            .to_json()
        )
