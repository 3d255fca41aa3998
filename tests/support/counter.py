"""The counter in tests: the loop's settings made small, auth codes for each customer
behaviour of the simulator (sandbox/pay/codepay.py), and waiting for a loop to end."""

import itertools
import time

import requests

from server.extensions import db
from server.models import CounterPayment, Order

# Seconds: poll, PIN timeout, reverse-after, lease. The PIN timeout stays above the simulator's
# short PIN delays (a few tenths) and below its walk-away ones.
FAST = {
    "COUNTER_POLL_SECONDS": "0.1",
    "COUNTER_PIN_TIMEOUT_SECONDS": "1",
    "COUNTER_REVERSE_AFTER_SECONDS": "1.5",
    "COUNTER_LEASE_SECONDS": "1",
}
_serial = itertools.count(1)


def code(prefix="134", tenths=None):
    """A fresh auth code (codes are single-use) with the behaviour ``prefix`` chooses."""
    head = prefix if tenths is None else f"{prefix}{tenths:03d}"
    tail = f"{time.time_ns() % 10**9:09d}{next(_serial):05d}"
    return (head + tail + "0" * 18)[:18]


PAYS = "134"
NOTENOUGH, EXPIRED, INVALID, SYSTEMERROR, BANKERROR = "1302", "1303", "1304", "1305", "1306"


def pin_pays(tenths):
    return code("1300", tenths)


def walks_away(tenths):
    return code("1301", tenths)


def wait_final(app, order_id, timeout=20):
    """The counter payment once its loop has ended (SUCCESS, CLOSED, REVOKED)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            payment = db.session.execute(
                db.select(CounterPayment).filter_by(order_id=order_id)
            ).scalar_one()
            if payment.state in CounterPayment.FINAL:
                order = db.session.get(Order, order_id)
                return payment.state, payment.reason, order.status, payment.reverses
        time.sleep(0.05)
    raise AssertionError(f"counter order {order_id} still open after {timeout} s")


def simulator_orders(stack):
    return requests.get(f"{stack.sandbox}/sandbox/orders", timeout=5).json()["orders"]


def simulator_order(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}", timeout=5).json()["order"]
