"""Native on a desktop, through the web shop's pages over HTTP, on SQLite and PostgreSQL, with
API v3 and v2: a QR code, scanned in the simulator, the order paid; the same cart again is the
same order; an expired order shows no code; the simulator refuses an expired code_url."""

import pytest

from server.models import Order
from tests.support import wait_for
from tests.support.orders import expire
from tests.support.web import WebShopper, scan

V2 = {"WECHATPAY_API_VERSION": "v2", "WECHATPAY_API_KEY": "k" * 32}


@pytest.fixture(params=["v3", "v2"])
def web_stack(request, make_stack):
    return make_stack(**(V2 if request.param == "v2" else {}))


def test_scan_the_qr_code_and_the_order_is_paid(web_stack):
    shopper = WebShopper(web_stack)
    shopper.add(1, 2)
    order_id = shopper.checkout()
    code_url = shopper.code_url(order_id)
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    assert "<svg" in shopper.order_page(order_id).text
    assert shopper.status(order_id)["state"] == "waiting"

    assert scan(web_stack, code_url).status_code == 200
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    (row,) = web_stack.query(
        "select channel, trade_type, total, status, payer_openid from orders where id = :id",
        id=order_id,
    )
    assert row[:4] == ("native", "NATIVE", 3600, Order.PAID)
    assert row[4]  # the payer, told by the notification
    # The code cannot be paid twice.
    assert scan(web_stack, code_url).status_code == 400


def test_the_same_cart_checked_out_again_is_the_same_order(web_stack):
    shopper = WebShopper(web_stack)
    shopper.add(2)
    first = shopper.checkout()
    assert shopper.checkout() == first
    assert shopper.code_url(first)  # placed again with WeChat: the same order there
    assert web_stack.query("select count(*) from orders")[0][0] == 1
    # Another browser sees none of it.
    assert WebShopper(web_stack).order_page(first).status_code == 404


def test_an_expired_order_shows_no_code_and_its_code_url_is_refused(web_stack):
    shopper = WebShopper(web_stack)
    shopper.add(1)
    order_id = shopper.checkout()
    code_url = shopper.code_url(order_id)
    expire(web_stack, order_id)
    assert shopper.status(order_id)["state"] == "expired"
    assert shopper.code_url(order_id) is None
    # A new checkout of the same cart is a new order.
    assert shopper.checkout() != order_id
    # In the simulator, the old code is refused once WeChat's order is past its time_expire.
    (out_trade_no,) = web_stack.query("select out_trade_no from orders where id = :i", i=order_id)[
        0
    ]
    web_stack.control(f"orders/{out_trade_no}/expire")
    refused = scan(web_stack, code_url)
    assert refused.status_code == 400
    assert "过期" in refused.json()["error"]["message"]


def test_wechat_failing_at_checkout_keeps_the_order_and_the_page_places_it_again(make_stack):
    stack = make_stack()
    shopper = WebShopper(stack)
    shopper.add(1)
    stack.control(
        "faults", kind="api", path="/v3/pay/transactions/native", status=500, code="SYSTEM_ERROR"
    )
    order_id = shopper.checkout()  # lands on the order page, which says WeChat failed
    page = shopper.order_page(order_id)
    assert page.status_code == 200 and shopper.code_url(order_id)  # the fault was used once
    assert stack.query("select count(*) from orders")[0][0] == 1
