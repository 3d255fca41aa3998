"""Delivery addresses at checkout and after: checked with stable codes, nothing stored when
refused, kept on the order as a copy, changed only while the order is unpaid or paid and not
shipped; the user cancels an unpaid order (closed with WeChat first)."""

from datetime import timedelta

import pytest
import requests

from server.domain import addresses
from server.errors import DomainError
from server.extensions import db
from server.models import Order
from server.timeutil import utcnow
from tests.support import wait_for

ADDRESS = {
    "name": "张三",
    "phone": "13800005678",
    "province": "广东省",
    "city": "广州市",
    "district": "海珠区",
    "detail": "新港中路397号",
}


def beans(stack):
    """The demo catalogue's product that ships."""
    return next(p for p in stack.products() if p["ships"])


def drink(stack):
    return next(p for p in stack.products() if not p["ships"])


def checkout(stack, auth, product, address=None, quantity=1):
    body = {"items": [{"product_id": product["id"], "quantity": quantity}]}
    if address is not None:
        body["address"] = address
    return requests.post(f"{stack.backend}/api/orders", json=body, headers=auth)


def order_count(stack):
    return stack.query("SELECT count(*) FROM orders")[0][0]


def test_an_order_of_beans_keeps_the_address_as_given(stack):
    auth = stack.login()
    given = {**ADDRESS, "phone": "+86 138-0000-5678", "detail": "  新港中路397号   2栋 "}
    response = checkout(stack, auth, beans(stack), given)
    assert response.status_code == 201, response.text
    order = response.json()["order"]
    assert order["ships"] is True
    assert order["address"] == {**ADDRESS, "phone": "13800005678", "detail": "新港中路397号 2栋"}
    (row,) = stack.query(
        "SELECT recipient_name, recipient_phone, recipient_detail FROM orders WHERE id = :id",
        id=order["id"],
    )
    assert tuple(row) == ("张三", "13800005678", "新港中路397号 2栋")

    # The same checkout sent again (a lost answer) gets the order back; with another address
    # it is another checkout.
    key = {**auth, "Idempotency-Key": "beans-checkout-1"}
    body = {"items": [{"product_id": beans(stack)["id"], "quantity": 1}], "address": ADDRESS}
    first = requests.post(f"{stack.backend}/api/orders", json=body, headers=key)
    again = requests.post(f"{stack.backend}/api/orders", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    moved = {**body, "address": {**ADDRESS, "detail": "科技园1号"}}
    other = requests.post(f"{stack.backend}/api/orders", json=moved, headers=key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_drink_needs_no_address_and_keeps_none(stack):
    auth = stack.login()
    bare = checkout(stack, auth, drink(stack)).json()["order"]
    assert bare["ships"] is False and bare["address"] is None
    given = checkout(stack, auth, drink(stack), ADDRESS, quantity=2).json()["order"]
    assert given["address"] is None  # personal data the shop does not need is not kept
    assert stack.query("SELECT count(*) FROM orders WHERE recipient_phone IS NOT NULL")[0][0] == 0


LONG = {
    "name": 33,
    "phone": 21,
    "province": 33,
    "city": 33,
    "district": 33,
    "detail": 201,
}


REFUSALS = [
    (None, "ADDRESS_REQUIRED", None, None),
    ("not an object", "INVALID_ADDRESS", "address", "not_an_object"),
    ({"phone": "12345"}, "INVALID_PHONE", "phone", None),
    ({"phone": "1380000567"}, "INVALID_PHONE", "phone", None),  # 10 digits
    ({"phone": "23800005678"}, "INVALID_PHONE", "phone", None),
    ({"phone": "138０0005678"}, "INVALID_PHONE", "phone", None),  # a full-width digit
    ({"name": ""}, "INVALID_ADDRESS", "name", "missing"),
    ({"detail": "   "}, "INVALID_ADDRESS", "detail", "missing"),
    ({"city": 42}, "INVALID_ADDRESS", "city", "not_text"),
    ({"name": "张三\n李四"}, "INVALID_ADDRESS", "name", "control_characters"),
    ({"detail": "新港中路\x1b[31m397号"}, "INVALID_ADDRESS", "detail", "control_characters"),
    ({"detail": "新港中路\u202e397号"}, "INVALID_ADDRESS", "detail", "control_characters"),
    ({"name": "张\u200b三"}, "INVALID_ADDRESS", "name", "control_characters"),
    *[({f: "路" * n}, "INVALID_ADDRESS", f, "too_long") for f, n in LONG.items() if f != "phone"],
]


def test_a_bad_address_is_refused_with_its_code_and_nothing_is_stored(stack):
    auth = stack.login()
    product = beans(stack)
    for change, code, field, reason in REFUSALS:
        if change is None:
            address = None
        elif isinstance(change, str):
            address = change
        else:
            address = {**ADDRESS, **change}
        response = checkout(stack, auth, product, address)
        assert response.status_code == 400, (change, response.text)
        error = response.json()["error"]
        assert (error["code"], error.get("field"), error.get("reason")) == (code, field, reason)
        # The message names the field, never echoes the value.
        value = next(iter(change.values())) if isinstance(change, dict) else None
        if isinstance(value, str) and value.strip():
            assert value not in error["message"]
    # Nothing stored here, nothing placed with WeChat.
    assert order_count(stack) == 0
    assert requests.get(f"{stack.sandbox}/sandbox/orders").json()["orders"] == []


def test_the_longest_address_fits(stack):
    auth = stack.login()
    longest = {f: "路" * n for f, n in addresses.MAX_LENGTHS.items() if f != "phone"}
    response = checkout(stack, auth, beans(stack), {**ADDRESS, **longest})
    assert response.status_code == 201, response.text
    assert response.json()["order"]["address"]["detail"] == "路" * 200


def test_phone_numbers_mainland_formats():
    assert addresses.phone_digits("138 0000 5678") == "13800005678"
    assert addresses.phone_digits("8613800005678") == "13800005678"
    assert addresses.phone_digits("020-12345678") == "02012345678"
    assert addresses.phone_digits("0755 8765 4321") == "075587654321"
    for bad in ("", "110", "+1 415 555 0100", "12800005678", "1380000567８", "abc13800005678"):
        with pytest.raises(DomainError) as refused:
            addresses.phone_digits(bad)
        assert refused.value.code == "INVALID_PHONE"
    assert addresses.mask("13800005678") == "138****5678"
    assert addresses.mask("02012345678") == "020****5678"
    assert addresses.mask("") == ""


def change_address(stack, auth, order_id, address):
    return requests.put(
        f"{stack.backend}/api/orders/{order_id}/address", json={"address": address}, headers=auth
    )


def test_the_address_changes_while_unpaid_and_while_paid_but_not_shipped(stack):
    auth = stack.login()
    created = checkout(stack, auth, beans(stack), ADDRESS).json()
    order_id = created["order"]["id"]
    moved = {**ADDRESS, "city": "深圳市", "district": "南山区", "detail": "科技园1号"}
    response = change_address(stack, auth, order_id, moved)
    assert response.status_code == 200, response.text
    assert response.json()["order"]["address"] == moved

    bad = change_address(stack, auth, order_id, {**moved, "phone": "555"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_PHONE"
    assert stack.order(auth, order_id).json()["order"]["address"] == moved  # unchanged

    stack.cashier(created["pay_params"])
    wait_for(lambda: stack.order(auth, order_id).json()["order"]["status"] == "PAID")
    again = {**moved, "name": "李四"}
    assert change_address(stack, auth, order_id, again).json()["order"]["address"] == again

    stack.cli(
        "shipping", "ship", str(order_id), "--logistics", "express", "--package", "SF1:SF"
    )  # the phone: the order's
    shipped = change_address(stack, auth, order_id, ADDRESS)
    assert shipped.status_code == 409
    assert shipped.json()["error"]["code"] == "ADDRESS_NOT_CHANGEABLE"
    assert shipped.json()["error"]["reason"] == "shipped"
    assert stack.order(auth, order_id).json()["order"]["address"] == again


def test_the_address_of_a_closed_order_or_of_a_drink_does_not_change(stack):
    auth = stack.login()
    closed = checkout(stack, auth, beans(stack), ADDRESS).json()["order"]
    with stack.app.app_context():
        db.session.execute(db.update(Order).where(Order.id == closed["id"]).values(status="CLOSED"))
        db.session.commit()
    refused = change_address(stack, auth, closed["id"], {**ADDRESS, "name": "李四"})
    assert refused.status_code == 409
    assert refused.json()["error"]["order_status"] == "CLOSED"
    coffee = checkout(stack, auth, drink(stack)).json()["order"]
    refused = change_address(stack, auth, coffee["id"], ADDRESS)
    assert refused.status_code == 409 and refused.json()["error"]["reason"] == "does_not_ship"
    other = stack.login("o-someone-else")
    assert change_address(stack, other, closed["id"], ADDRESS).status_code == 404


def test_the_user_cancels_an_unpaid_order_closed_with_wechat_first(stack):
    auth = stack.login()
    created = checkout(stack, auth, beans(stack), ADDRESS).json()
    order = created["order"]
    url = f"{stack.backend}/api/orders/{order['id']}/cancel"
    too_soon = requests.post(url, headers=auth)
    assert too_soon.status_code == 409
    assert too_soon.json()["error"]["reason"] == "too_soon"
    assert "cancellable_at" in too_soon.json()["error"]

    with stack.app.app_context():  # placed 6 minutes ago: WeChat closes it now
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(created_at=utcnow() - timedelta(minutes=6))
        )
        db.session.commit()
    response = requests.post(url, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["order"]["status"] == "CLOSED"
    wechat = requests.get(f"{stack.sandbox}/sandbox/orders/{order['out_trade_no']}").json()
    assert wechat["order"]["trade_state"] == "CLOSED"  # closed there first
    # Closed: it can no longer be paid, at WeChat or here.
    assert stack.cashier(created["pay_params"]).status_code >= 400
    again = requests.post(url, headers=auth)
    assert again.status_code == 409 and again.json()["error"]["reason"] == "not_unpaid"
