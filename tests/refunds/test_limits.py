"""What may be refunded, decided in the domain before WeChat is asked, on orders built in the
database (tests/support/factories.py), on SQLite and PostgreSQL.

No gateway is given: a refusal must come before any call to WeChat (a call would fail the
test). The end-to-end refunds, through the simulator, are in test_flow.py.
"""

import pytest

from server.domain import refunds
from server.errors import DomainError
from server.models import Order, Refund
from tests.support import factories


def refused(order, amount):
    """The DomainError code for refunding ``amount`` fen of ``order``."""
    with pytest.raises(DomainError) as refusal:
        refunds.refund(order, amount, "test", "admin@shop.test", gateway=None, notify_url=None)
    return refusal.value.code


def refund_count(order):
    return len(order.refunds)


def test_a_partly_refunded_order_refunds_only_what_is_left(domain_app):
    order = factories.refunded_order([500, 300])  # of one coffee, 1800 fen
    assert (order.status, order.refunded, refunds.refundable(order)) == (Order.PAID, 800, 1000)
    assert refused(order, 1001) == "EXCEEDS_REFUNDABLE"
    for amount in (0, -1, 1.5, True, "100"):
        assert refused(order, amount) == "INVALID_AMOUNT"
    assert refund_count(order) == 2  # nothing written


def test_refunds_that_may_still_pay_out_hold_their_amount(domain_app):
    order = factories.paid_order()  # 1800 fen
    for amount, status in [
        (600, Refund.PROCESSING),
        (400, Refund.ABNORMAL),
        (500, Refund.PENDING),
        (300, Refund.FAILED),  # refused by WeChat: frees its amount
        (200, Refund.CLOSED),  # closed by WeChat: frees its amount
    ]:
        factories.refund(order, amount, status=status)
    assert order.refunded == 0  # none has reached the payer yet
    assert refunds.refundable(order) == 1800 - 600 - 400 - 500
    assert refused(order, 301) == "EXCEEDS_REFUNDABLE"


def test_a_fully_refunded_order_is_not_refundable(domain_app):
    order = factories.refunded_order()
    assert (order.status, order.refunded, refunds.refundable(order)) == (Order.REFUNDED, 1800, 0)
    assert refused(order, 1) == "ORDER_NOT_REFUNDABLE"


def test_the_fifty_first_refund_of_an_order_is_refused(domain_app):
    order = factories.refunded_order([1] * refunds.MAX_REFUNDS_PER_ORDER)
    assert order.status == Order.PAID and refunds.refundable(order) == 1800 - 50
    assert refused(order, 1) == "TOO_MANY_REFUNDS"
    assert refund_count(order) == 50
