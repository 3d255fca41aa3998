"""The web shop's ways to pay on SQLite and PostgreSQL, without a browser: the official
account's JSAPI on v3 and v2 (both sign types), the JS-SDK signature pinned to the published
example, the jsapi_ticket shared by concurrent pages and refreshed when it expires, a refund of
a Native order, and one day's bill with JSAPI, NATIVE and MWEB rows reconciled."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from server.domain import bills, jsapi_tickets
from server.extensions import db
from server.timeutil import utcnow
from server.web import wechat
from server.wechat.official_account import jssdk_signature
from tests.support import wait_for
from tests.support.concurrency import at_once
from tests.support.refunds import place_refund, wait_refund
from tests.support.web import (
    PHONE_UA,
    WECHAT_UA,
    WebShopper,
    h5_url,
    offers_refund,
    pay_inside_wechat,
    scan,
    sign_in_inside_wechat,
)


def test_jssdk_signature_matches_the_published_example():
    # The JS-SDK documentation's appendix 1 (copy: https://www.cnblogs.com/txw1958/p/
    # weixin-jsapi-signature.html), and its fragment dropped as the rule says.
    signature = jssdk_signature(
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
        "Wm3WZYTPz0wzccnW",
        1414587457,
        "http://mp.weixin.qq.com?params=value#top",
    )
    assert signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def ticket_calls(stack):
    return requests.get(f"{stack.sandbox}/sandbox/jsapi-ticket", timeout=5).json()["calls"]


def test_one_ticket_for_16_concurrent_pages_and_a_new_one_after_it_expires(stack):
    url = f"{stack.backend}/shop/orders/1"

    def page():
        with stack.app.app_context():
            config = jsapi_tickets.wx_config(wechat.api(), url)
            ticket = jsapi_tickets.current_ticket(wechat.api())
            db.session.remove()
        return config, ticket

    pages = at_once([page] * 16)
    tickets = {ticket for _, ticket in pages}
    assert len(tickets) == 1 and ticket_calls(stack) == 1
    (ticket,) = tickets
    for config, _ in pages:
        assert config["signature"] == jssdk_signature(
            ticket, config["nonceStr"], config["timestamp"], url
        )
    # 7200 s later: the stored ticket (and the token it needs) have run out.
    stack.control("jsapi-ticket/expire")
    with stack.app.app_context():
        db.session.execute(
            db.text("update wechat_access_tokens set expires_at = :past"),
            {"past": utcnow() - timedelta(seconds=1)},
        )
        db.session.commit()
    renewed = at_once([page] * 4)
    assert {t for _, t in renewed} != tickets and len({t for _, t in renewed}) == 1
    assert ticket_calls(stack) == 2


V2 = {"WECHATPAY_API_VERSION": "v2", "WECHATPAY_API_KEY": "k" * 32}


@pytest.mark.parametrize("version", ["v3", "v2-MD5", "v2-HMAC-SHA256"])
def test_pay_inside_wechat_on_each_api_version(make_stack, version):
    settings = {}
    if version != "v3":
        settings = {**V2, "WECHATPAY_V2_SIGN_TYPE": version.split("-", 1)[1]}
    stack = make_stack(**settings)
    shopper = WebShopper(stack, user_agent=WECHAT_UA)
    sign_in_inside_wechat(shopper)
    shopper.add(1)
    order_id = shopper.checkout()
    params, checked, paid = pay_inside_wechat(shopper, order_id)
    assert params["appId"] == stack.settings["WECHAT_OA_APPID"]
    assert params["signType"] == ("RSA" if version == "v3" else version.split("-", 1)[1])
    assert "problem" not in checked and paid == {"ok": True}
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    ((channel, appid, api_version),) = stack.query("select channel, appid, api_version from orders")
    assert channel == "official-account" and appid == params["appId"]
    assert api_version == version[:2]


def test_a_tampered_pay_sign_or_another_directory_is_refused_by_the_client(make_stack):
    stack = make_stack(SANDBOX_PAY_DIRECTORIES="https://shop.example/shop/")
    shopper = WebShopper(stack, user_agent=WECHAT_UA)
    sign_in_inside_wechat(shopper)
    shopper.add(1)
    order_id = shopper.checkout()
    _, checked, paid = pay_inside_wechat(shopper, order_id)
    assert checked["problem"].startswith("当前页面的URL未注册") and paid["ok"] is False
    assert stack.query("select status from orders")[0][0] == "NOTPAY"


def paid_guest_order(stack):
    """A desktop guest's Native order, scanned and paid in the simulator."""
    shopper = WebShopper(stack)
    shopper.add(1)
    order_id = shopper.checkout()
    assert scan(stack, shopper.code_url(order_id)).status_code == 200
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    return shopper, order_id


def test_refund_a_native_order(stack):
    _, order_id = paid_guest_order(stack)
    refund = place_refund(stack, order_id, 1800)
    wait_refund(stack, refund["out_refund_no"], "SUCCESS")
    assert stack.query("select status from orders")[0][0] == "REFUNDED"


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_a_refund_notification_names_the_appid_the_order_was_placed_with(make_stack, version):
    # v2's notification names an appid (the order's: here the official account's), v3's none;
    # the backend holds either against the order, so a wrong one would leave it PROCESSING.
    stack = make_stack(**(V2 if version == "v2" else {}))
    shopper = WebShopper(stack, user_agent=WECHAT_UA)
    sign_in_inside_wechat(shopper)
    shopper.add(1)
    order_id = shopper.checkout()
    pay_inside_wechat(shopper, order_id)
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    refund = place_refund(stack, order_id, 1800)
    wait_refund(stack, refund["out_refund_no"], "SUCCESS")
    notified = "select payload from payment_events where refund_id > 0 and source = 'notify'"
    ((payload,),) = wait_for(lambda: stack.query(notified))
    expected = stack.settings["WECHAT_OA_APPID"] if version == "v2" else None
    assert json.loads(payload).get("appid") == expected
    assert stack.query("select appid from orders")[0][0] == stack.settings["WECHAT_OA_APPID"]


def test_a_bill_with_jsapi_native_and_h5_rows_reconciles(stack):
    orders = {}
    inside = WebShopper(stack, user_agent=WECHAT_UA)
    sign_in_inside_wechat(inside)
    inside.add(1)
    orders["JSAPI"] = inside.checkout()
    pay_inside_wechat(inside, orders["JSAPI"])
    desktop = WebShopper(stack)
    desktop.add(2)
    orders["NATIVE"] = desktop.checkout()
    scan(stack, desktop.code_url(orders["NATIVE"]))
    phone = WebShopper(stack, user_agent=PHONE_UA)
    phone.add(3)
    orders["MWEB"] = phone.checkout()
    url = h5_url(phone, orders["MWEB"])
    phone.http.post(
        url.split("?")[0],
        data={"prepay_id": parse_qs(urlsplit(url).query)["prepay_id"][0], "action": "pay"},
        timeout=10,
    )
    for shopper, order_id in ((inside, orders["JSAPI"]), (desktop, orders["NATIVE"])):
        wait_for(lambda s=shopper, i=order_id: s.status(i)["state"] == "paid")
    wait_for(lambda: phone.status(orders["MWEB"])["state"] == "paid")

    assert "CLEAN" in stack.cli("bills", "reconcile", "--date", "today")
    with stack.app.app_context():
        from server.channels import merchant_gateways

        ((_, gateway),) = merchant_gateways()
        bill = bills.parse_bill(gateway.download_trade_bill(bills.beijing_today()))
    in_bill = {row["商户订单号"]: row["交易类型"] for row in bill.rows}
    ours = dict(stack.query("select out_trade_no, trade_type from orders"))
    assert in_bill == ours and sorted(ours.values()) == ["JSAPI", "MWEB", "NATIVE"]


def test_a_refund_request_from_inside_wechat_reaches_the_console(stack):
    shopper = WebShopper(stack, user_agent=WECHAT_UA)
    sign_in_inside_wechat(shopper)
    shopper.add(1)
    order_id = shopper.checkout()
    pay_inside_wechat(shopper, order_id)
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    assert offers_refund(shopper.order_page(order_id).text)
    asked = shopper.post(f"/shop/orders/{order_id}/refund-request", {"reason": "太甜了"})
    assert asked.status_code == 200 and "data-refund-request" not in asked.text
    assert stack.query("select order_id, status, reason from refund_requests") == [
        (order_id, "PENDING", "太甜了")
    ]
    # An order not paid yet offers none: the form waits in the hidden part for a paid order
    # (revealed when the page's poll sees the payment), and the server refuses the request.
    guest = WebShopper(stack)
    guest.add(1)
    unpaid = guest.checkout()
    page = guest.order_page(unpaid).text
    assert "data-refund-request" in page and not offers_refund(page)
    refused = guest.post(f"/shop/orders/{unpaid}/refund-request", {"reason": "早了"})
    assert refused.status_code == 409 and "cannot be refunded" in refused.text
    assert stack.query("select count(*) from refund_requests") == [(1,)]


def test_a_guest_asks_for_a_refund_from_the_browser_that_placed_the_order(stack):
    from tests.support.console import staffed

    shopper, order_id = paid_guest_order(stack)
    path = f"/shop/orders/{order_id}/refund-request"
    # Another browser cannot ask (nor see the order): 404, as for a missing order.
    stranger = WebShopper(stack)
    assert stranger.post(path, {"reason": "not mine"}).status_code == 404
    assert stack.query("select count(*) from refund_requests") == [(0,)]

    assert offers_refund(shopper.order_page(order_id).text)
    # A double click: two requests at once from the same browser make one.
    answers = at_once([lambda: shopper.post(path, {"reason": "买错了"})] * 2)
    assert [a.status_code for a in answers] == [200, 200]
    assert stack.query("select order_id, user_id, status, reason from refund_requests") == [
        (order_id, None, "PENDING", "买错了")
    ]
    page = shopper.order_page(order_id).text
    assert 'data-refund-asked="PENDING"' in page and "data-refund-request" not in page

    # The console lists it as a guest's and refunds what is left (the server's amount).
    admin, _ = staffed(stack)
    listed = admin.get("/console/refund-requests").text
    ((request_id,),) = stack.query("select id from refund_requests")
    assert "data-guest" in listed and f'id="amount-{request_id}" name="amount" value="18.00"' in (
        listed
    )
    admin.post(f"/console/refund-requests/{request_id}/approve", {"amount": "", "note": "好的"})
    ((out_refund_no, amount, requested_by),) = stack.query(
        "select out_refund_no, amount, requested_by from refunds"
    )
    assert (amount, requested_by) == (1800, "guest")
    wait_refund(stack, out_refund_no, "SUCCESS")
    page = shopper.order_page(order_id).text
    assert 'data-refund-asked="APPROVED"' in page and "好的" in page
    assert "data-refund-request" not in page  # refunded: nothing more to ask for


def test_a_guest_cannot_ask_for_an_order_it_did_not_place_even_with_its_own_session(stack):
    # The order belongs to the session that placed it: a guest with orders of its own still
    # gets 404 for someone else's, and the signed session cannot be edited to list it.
    _, order_id = paid_guest_order(stack)
    other, own = paid_guest_order(stack)
    assert other.post(f"/shop/orders/{order_id}/refund-request").status_code == 404
    (cookie,) = [c for c in other.http.cookies if c.name == "session"]
    cookie.value = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    assert other.get(f"/shop/orders/{own}").status_code == 404  # a bad signature: no orders
    assert stack.query("select count(*) from refund_requests") == [(0,)]


def test_the_console_shows_the_channel_filters_by_it_and_skips_shipping(stack):
    from tests.support.console import staffed

    shopper = WebShopper(stack)
    shopper.add(1)
    order_id = shopper.checkout()
    scan(stack, shopper.code_url(order_id))
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    admin, _ = staffed(stack)
    page = admin.get(f"/console/orders/{order_id}").text
    assert "Web shop: QR code" in page and "Native (QR code)" in page
    assert "data-shipping-not-wechats" in page and 'id="ship' not in page.replace(
        'id="shipping"', ""
    )
    listed = admin.get("/console/orders?channel=native&status=all").text
    assert f"/console/orders/{order_id}" in listed
    assert (
        f"/console/orders/{order_id}"
        not in admin.get("/console/orders?channel=miniprogram&status=all").text
    )


def hide_product(stack, product_id):
    with stack.app.app_context():
        db.session.execute(
            db.text("update products set active = :no where id = :id"),
            {"no": False, "id": product_id},
        )
        db.session.commit()


def test_a_hidden_product_cannot_be_added_and_drops_out_of_a_cart_that_holds_it(stack):
    shopper = WebShopper(stack)
    shopper.add(1)
    shopper.add(2)
    hide_product(stack, 2)
    # Added no more: a clear refusal, and the cart unchanged.
    refused = shopper.add(2)
    assert refused.status_code == 404 and "no longer sold" in refused.text
    # The cart shows what is still sold, and checkout places exactly that.
    cart = shopper.get("/shop/cart").text
    assert 'name="product_id" value="1"' in cart and 'name="product_id" value="2"' not in cart
    order_id = shopper.checkout()
    assert stack.query("select total from orders where id = :i", i=order_id) == [(1800,)]
    assert stack.query("select product_id from order_items where order_id = :i", i=order_id) == [
        (1,)
    ]


def test_the_shop_limits_each_address_and_answers_429_with_its_page(make_stack):
    stack = make_stack(
        RATE_LIMIT_ORDER_WRITES="3 per minute", RATE_LIMIT_ORDER_READS="4 per minute"
    )
    shopper = WebShopper(stack)
    shopper.add(1)
    order_id = shopper.checkout()  # two writes: the checkout and the order page it lands on
    assert shopper.order_page(order_id).status_code == 200  # the third
    # The order page places the Native order with WeChat again: a fourth load is refused.
    refused = shopper.order_page(order_id)
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # Another browser from the same address shares the budget: no new order.
    other = WebShopper(stack)
    other.add(2)
    assert other.post("/shop/checkout").status_code == 429
    assert stack.query("select count(*) from orders") == [(1,)]
    # The status poll has a budget of its own (the reads').
    assert [shopper.status(order_id)["state"] for _ in range(4)] == ["waiting"] * 4
    assert shopper.get(f"/shop/orders/{order_id}/status").status_code == 429
    # The cart and the products are not limited.
    assert shopper.get("/shop/cart").status_code == 200


def test_the_simulators_consent_checks_the_redirect_uri_and_state_again(make_stack):
    # The consent form is the browser's to edit: its POST repeats the GET's checks, so the
    # simulator redirects only to the web authorisation domain.
    stack = make_stack(SANDBOX_OAUTH_DOMAIN="127.0.0.1")
    shopper = WebShopper(stack, user_agent=WECHAT_UA)
    assert sign_in_inside_wechat(shopper).status_code == 200  # the real form goes through
    consent = f"{stack.sandbox}/connect/oauth2/authorize"
    fields = {"redirect_uri": f"{stack.backend}/shop/oauth", "state": "abc123", "decision": "allow"}
    for edited, error in (
        ({"redirect_uri": "https://evil.example/steal"}, "10003"),
        ({"redirect_uri": "/relative"}, "10003"),
        ({"state": "not a state!"}, "state"),
    ):
        answer = requests.post(consent, data={**fields, **edited}, allow_redirects=False)
        assert answer.status_code == 400 and f'data-error="{error}"' in answer.text
        assert "Location" not in answer.headers
    sent = requests.post(consent, data=fields, allow_redirects=False)
    assert sent.status_code == 302 and sent.headers["Location"].startswith(fields["redirect_uri"])
