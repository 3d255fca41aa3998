"""WeChat's shipping rules kept in the domain, on orders built in the database
(tests/support/factories.py), on SQLite and PostgreSQL: a refused change never reaches WeChat
(no API client is given, so a call would fail the test). Uploads through the simulator are in
test_flow.py."""

import json

import pytest

from server.domain import shipping
from server.errors import DomainError
from server.models import Shipment
from tests.support import factories

CHANGE = {"item_desc": "手冲咖啡", "tracking_no": "YT9876543210", "express_company": "YTO"}


def refused(order):
    """The DomainError code for recording CHANGE as the order's shipping."""
    with pytest.raises(DomainError) as refusal:
        shipping.record_shipment(
            order, api=None, logistics="express", packages=[CHANGE], by="operator@shop.test"
        )
    return refusal.value.code


def test_a_shipment_whose_one_change_is_used_cannot_change_again(domain_app):
    order = factories.shipped_order(uploads=shipping.MAX_UPLOADS)
    assert refused(order) == "CHANGE_NOT_ALLOWED"
    shipment = order.shipment
    assert (shipment.status, shipment.upload_count) == (Shipment.SHIPPED, shipping.MAX_UPLOADS)
    assert json.loads(shipment.packages)[0]["tracking_no"] == "SF1234567890"


def test_only_a_paid_order_is_shipped(domain_app):
    refunded = factories.refunded_order()
    assert refused(refunded) == "ORDER_NOT_SHIPPABLE"
    assert refunded.shipment is None
