"""The periodic jobs (API v3): reconcile catches lost notifications; close-expired closes
abandoned orders with WeChat first, and records a payment that beat it."""
from datetime import timedelta

import requests

from server.extensions import db
from server.models import Order, utcnow


def wechat_state(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"][
        "trade_state"]


def expire(stack, order_id):
    """Make an order an hour old and past its time_expire."""
    with stack.app.app_context():
        db.session.execute(db.update(Order).where(Order.id == order_id).values(
            created_at=utcnow() - timedelta(hours=1),
            time_expire=utcnow() - timedelta(minutes=1)))
        db.session.commit()


def test_reconcile_finds_a_payment_whose_notification_was_lost(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    assert "reconciled 1 orders" in stack.cli("reconcile", "--older-than", "0")
    assert stack.query("SELECT status FROM orders") == [("PAID",)]
    assert stack.query("SELECT source FROM payment_events") == [("query",)]


def test_close_expired_closes_with_wechat_first(stack):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    fresh = stack.create_order(auth).json()["order"]
    expire(stack, order["id"])
    assert "closed 1 of 1" in stack.cli("close-expired")
    assert wechat_state(stack, order["out_trade_no"]) == "CLOSED"
    assert stack.query("SELECT status FROM orders WHERE id = :id", id=order["id"]) == \
        [("CLOSED",)]
    assert wechat_state(stack, fresh["out_trade_no"]) == "NOTPAY"  # not expired: left alone


def test_close_expired_records_a_last_moment_payment_instead(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    expire(stack, created["order"]["id"])
    assert "closed 0 of 1" in stack.cli("close-expired")
    assert stack.query("SELECT status FROM orders") == [("PAID",)]


def test_close_expired_keeps_the_order_open_when_wechat_refuses_to_close(stack):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    expire(stack, order["id"])
    stack.control("faults", kind="api", path="/v3/pay/transactions/out-trade-no/",
                  method="POST", status=500, code="SYSTEM_ERROR")
    assert "closed 0 of 1" in stack.cli("close-expired")
    assert stack.query("SELECT status FROM orders") == [("NOTPAY",)]
    assert "closed 1 of 1" in stack.cli("close-expired")  # the next run succeeds
