"""Checkout is the domain's, callable without a request: the API is one surface of it."""

import dataclasses

import pytest
from sqlalchemy import select

from server.channels import checkout_context
from server.domain import checkout
from server.errors import DomainError
from server.extensions import db
from server.models import Product, User


def test_checkout_without_a_request(stack):
    stack.login("o-checkout")
    with stack.app.app_context():
        user = db.session.execute(select(User).filter_by(openid="o-checkout")).scalar_one()
        product = db.session.execute(select(Product).order_by(Product.id)).scalars().first()
        context = checkout_context()
        lines = [(product.id, 1), (product.id, 2)]  # one product twice: one line of 3

        done = checkout.create(user, lines, key="checkout-key-1", client_ip=None, context=context)
        assert done.created and done.order.status == "NOTPAY"
        assert done.order.total == 3 * product.price and len(done.order.items) == 1
        assert done.pay_params["package"].startswith("prepay_id=")

        again = checkout.create(
            user, [(product.id, 3)], key="checkout-key-1", client_ip=None, context=context
        )
        assert not again.created and again.order.id == done.order.id
        with pytest.raises(DomainError) as reused:
            checkout.create(
                user, [(product.id, 1)], key="checkout-key-1", client_ip=None, context=context
            )
        assert reused.value.code == "IDEMPOTENCY_KEY_REUSED"
        assert reused.value.extra == {"order_id": done.order.id}

        unconfigured = dataclasses.replace(context, gateway=None, quick_gateway=None)
        with pytest.raises(DomainError) as refused:
            checkout.pay(done.order, unconfigured)
        assert refused.value.code == "PAYMENTS_NOT_CONFIGURED"
