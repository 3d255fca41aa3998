"""A service provider's other products, on SQLite and PostgreSQL, API v3 and v2: the web shop's
Native and H5 and the APP endpoint place a store's order on their own channel (the store's
sub_mchid lent to it), paid through the simulator's partner endpoints, notified at the
product's URL, refunded with the sub_mchid; a notification naming another store is refused
there too; a store's cashier sells at the counter (partner payment code)."""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from server import cashier
from server.domain import staff
from server.errors import DomainError
from server.extensions import db
from server.wechatpay.crypto import load_private_key, rsa_verify, v2_verify
from tests.support import counter as c
from tests.support import wait_for
from tests.support.console import ConsoleClient
from tests.support.notifications import signed_notification
from tests.support.web import (
    PHONE_UA,
    WECHAT_UA,
    WebShopper,
    h5_url,
    pay_inside_wechat,
    scan,
    sign_in_inside_wechat,
)

from .support import CENTRALISED, NOODLES, TEA, add_store_products, at_wechat, status
from .test_notifications import partner_resource

V2 = {"WECHATPAY_API_VERSION": "v2", "WECHATPAY_API_KEY": "k" * 32}


@pytest.fixture(params=["v3", "v2"])
def provider(request, make_stack, dev_keys):
    # The simulator binds the mobile app's appid to the provider too (its sp_appid for APP).
    appids = f"{dev_keys['WECHAT_APPID']},{dev_keys['WECHAT_APP_APPID']}"
    settings = {**CENTRALISED, **c.FAST, "SANDBOX_SP_APPIDS": appids}
    settings["SANDBOX_H5_DOMAIN"] = "127.0.0.1"
    stack = make_stack(**settings, **(V2 if request.param == "v2" else {}))
    return stack, add_store_products(stack)


def order_row(stack, order_id):
    (row,) = stack.query(
        "SELECT channel, trade_type, appid, mchid, sub_mchid, sub_appid FROM orders WHERE id = :id",
        id=order_id,
    )
    return row


# The backend commits the payment before its 204 reaches the simulator, which records the
# acknowledgement then: waited for, as the order's status is.
def paid_at_its_url(stack, path):
    return any(urlsplit(n["url"]).path == path and n["acknowledged"] for n in stack.notifications())


def refund_settles(stack, order_id, out_trade_no, sub_mchid):
    stack.cli("refund", str(order_id), "--amount", "100", "--reason", "退一点")
    wait_for(lambda: stack.query("SELECT status FROM refunds") == [("SUCCESS",)])
    seen = at_wechat(stack, out_trade_no)
    assert seen["mchid"] == sub_mchid  # WeChat found the order under its sub-merchant
    assert [r["amount"]["refund"] for r in seen["refunds"]] == [100]


def test_native_for_a_store_paid_notified_and_refunded(provider):
    stack, products = provider
    sp_appid, sp_mchid = stack.settings["WECHAT_APPID"], stack.settings["WECHATPAY_MCHID"]
    shopper = WebShopper(stack)
    shopper.add(products["tea"], 2)
    order_id = shopper.checkout()
    assert order_row(stack, order_id) == ("native", "NATIVE", sp_appid, sp_mchid, TEA, None)
    code_url = shopper.code_url(order_id)
    (out_trade_no,) = stack.query("SELECT out_trade_no FROM orders")[0]
    seen = at_wechat(stack, out_trade_no)
    assert (seen["trade_type"], seen["mchid"], seen["sp_mchid"]) == ("NATIVE", TEA, sp_mchid)

    assert scan(stack, code_url).status_code == 200
    wait_for(lambda: status(stack, order_id) == "PAID")
    wait_for(lambda: paid_at_its_url(stack, "/api/pay/notify/native"))
    (payer,) = stack.query("SELECT payer_openid FROM orders")[0]
    assert payer  # the scanner, from the partner notification's payer
    refund_settles(stack, order_id, out_trade_no, TEA)


def test_h5_for_a_store_paid_in_the_cashier_and_refunded(provider):
    stack, products = provider
    shopper = WebShopper(stack, user_agent=PHONE_UA)
    shopper.add(products["noodles"])
    order_id = shopper.checkout()
    assert order_row(stack, order_id)[:2] == ("h5", "MWEB")
    assert order_row(stack, order_id)[4:] == (NOODLES, None)
    url = h5_url(shopper, order_id)
    query = parse_qs(urlsplit(url).query)
    cashier_page = shopper.http.get(url, headers={"Referer": stack.backend + "/"}, timeout=10)
    assert cashier_page.status_code == 200 and "data-pay" in cashier_page.text
    shopper.http.post(
        url.split("?")[0],
        data={
            "prepay_id": query["prepay_id"][0],
            "redirect_url": query["redirect_url"][0],
            "action": "pay",
        },
        timeout=10,
    )
    wait_for(lambda: status(stack, order_id) == "PAID")
    wait_for(lambda: paid_at_its_url(stack, "/api/pay/notify/h5"))
    (out_trade_no,) = stack.query("SELECT out_trade_no FROM orders")[0]
    refund_settles(stack, order_id, out_trade_no, NOODLES)


def test_an_app_order_for_a_store_names_the_sub_merchant_as_partnerid(provider):
    stack, products = provider
    auth = stack.login("o-app")
    created = requests.post(
        f"{stack.backend}/api/app/orders",
        json={"items": [{"product_id": products["tea"], "quantity": 1}]},
        headers=auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    order, params = created.json()["order"], created.json()["app_params"]
    app_appid = stack.settings["WECHAT_APP_APPID"]
    sp_mchid = stack.settings["WECHATPAY_MCHID"]
    assert order_row(stack, order["id"]) == ("app", "APP", app_appid, sp_mchid, TEA, None)
    # The app pays in its own appid (the provider's sp_appid here); partnerid is the
    # sub-merchant (docs/provider.md); signed with the provider's key.
    assert (params["appid"], params["partnerid"]) == (app_appid, TEA)
    if stack.settings.get("WECHATPAY_API_VERSION") == "v2":
        assert v2_verify(params, V2["WECHATPAY_API_KEY"], "MD5")
    else:
        key = load_private_key(Path(stack.settings["WECHATPAY_PRIVATE_KEY"]).read_bytes())
        signed = "".join(f"{params[k]}\n" for k in ("appid", "timestamp", "noncestr", "prepayid"))
        assert rsa_verify(key.public_key(), signed.encode(), params["sign"])
    paid = requests.post(
        f"{stack.sandbox}/sandbox/pay", json={"prepay_id": params["prepayid"]}, timeout=10
    )
    assert paid.status_code == 200, paid.text
    wait_for(lambda: status(stack, order["id"]) == "PAID")
    wait_for(lambda: paid_at_its_url(stack, "/api/pay/notify/app"))


def test_a_cart_of_two_stores_is_refused_on_the_web_and_in_the_app(provider):
    stack, products = provider
    both = [{"product_id": products[name], "quantity": 1} for name in ("tea", "noodles")]
    refused = requests.post(
        f"{stack.backend}/api/app/orders", json={"items": both}, headers=stack.login(), timeout=10
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "CART_SPANS_STORES"
    shopper = WebShopper(stack)
    for line in both:
        shopper.add(line["product_id"])
    refused = shopper.post("/shop/checkout")
    assert refused.status_code == 409 and "different stores" in refused.text
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 0


def test_a_native_notification_naming_another_store_is_refused(make_stack):
    stack = make_stack(**CENTRALISED)
    products = add_store_products(stack)
    shopper = WebShopper(stack)
    shopper.add(products["tea"])
    order_id = shopper.checkout()
    (out_trade_no, total) = stack.query("SELECT out_trade_no, total FROM orders")[0]
    order = {"out_trade_no": out_trade_no, "total": total}
    url = f"{stack.backend}/api/pay/notify/native"
    wrong = partner_resource(stack, order, sub_mchid=NOODLES, trade_type="NATIVE")
    headers, body = signed_notification(stack.settings, wrong)
    assert requests.post(url, data=body, headers=headers).status_code == 400
    assert stack.query("SELECT order_id, event_type FROM payment_events") == [
        (order_id, "REFUSED.MERCHANT_MISMATCH")
    ]
    assert status(stack, order_id) == "NOTPAY"
    # The store's own, at the same URL, pays it.
    right = partner_resource(stack, order, trade_type="NATIVE")
    headers, body = signed_notification(stack.settings, right)
    assert requests.post(url, data=body, headers=headers).status_code == 204
    assert status(stack, order_id) == "PAID"


def test_a_stores_cashier_sells_at_the_counter_for_that_store(provider):
    stack, products = provider
    with stack.app.app_context():
        tea_cashier = staff.create("tea@example.com", "cashier", "a long password 1", store="tea")
        anyone = staff.create("all@example.com", "cashier", "a long password 1")
        ids = tea_cashier.id, anyone.id
        db.session.commit()

    def sell(staff_id, **sale):
        with stack.app.app_context():
            payment, _ = cashier.submit(
                auth_code=c.code(c.PAYS), staff_id=staff_id, client_ip="127.0.0.1", **sale
            )
            return payment.order_id, payment.order.out_trade_no

    # The tea shop's cashier at the console's counter types an amount: the tea shop's sale.
    console = ConsoleClient(stack.app)
    assert console.login("tea@example.com", "a long password 1").status_code == 302
    page = console.get("/console/counter")
    assert page.status_code == 200
    assert "龙井" in page.text and "牛肉面" not in page.text  # the tea shop's products only
    token = console.token("/console/counter")
    answer = console.client.post(
        "/console/api/counter/sales",
        json={"auth_code": c.code(c.PAYS), "amount": 880},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 201, answer.json
    order_id = answer.json["sale"]["order_id"]
    assert c.wait_final(stack.app, order_id)[:3] == ("SUCCESS", None, "PAID")
    assert console.get(f"/console/api/counter/sales/{order_id}").json["sale"]["final"]
    (out_trade_no,) = stack.query("SELECT out_trade_no FROM orders WHERE id = :i", i=order_id)[0]
    assert order_row(stack, order_id)[:2] == ("counter", "MICROPAY")
    assert order_row(stack, order_id)[4] == TEA
    seen = c.simulator_order(stack, out_trade_no)
    assert (seen["mchid"], seen["sp_mchid"]) == (TEA, stack.settings["WECHATPAY_MCHID"])
    refund_settles(stack, order_id, out_trade_no, TEA)

    # Products rung up: their store's (an unlimited cashier); another store's products are
    # not the tea cashier's to sell; a typed amount among two stores names none.
    order_id, _ = sell(ids[1], lines=[(products["noodles"], 1)])
    assert c.wait_final(stack.app, order_id)[0] == "SUCCESS"
    assert order_row(stack, order_id)[4] == NOODLES
    for staff_id, sale, code in (
        (ids[0], {"lines": [(products["noodles"], 1)]}, "PRODUCT_NOT_FOUND"),
        (ids[1], {"amount": 100}, "STORE_REQUIRED"),
    ):
        with pytest.raises(DomainError) as refused:
            sell(staff_id, **sale)
        assert refused.value.code == code
    assert stack.query("SELECT count(*) FROM orders")[0][0] == 2


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_inside_wechat_for_a_store_with_its_own_official_account_and_one_without(
    make_stack, dev_keys, version
):
    """The official account's JSAPI for two stores: the tea shop's own official account
    (its SUB_APPID: sp_appid the provider's, payer sub_openid, paySign's appId the official
    account) and the provider's, bound to it, for the noodle shop (sp_appid, sp_openid)."""
    oa_appid, sp_appid = dev_keys["WECHAT_OA_APPID"], dev_keys["WECHAT_APPID"]
    settings = {
        **CENTRALISED,
        **(V2 if version == "v2" else {}),
        "WECHATPAY_STORE_TEA_SUB_APPID": oa_appid,
        "SANDBOX_SUB_MERCHANTS": f"{TEA}:{oa_appid},{NOODLES}",
        "SANDBOX_SP_APPIDS": f"{sp_appid},{oa_appid}",
    }
    stack = make_stack(**settings)
    products = add_store_products(stack)
    for name in ("tea", "noodles"):
        shopper = WebShopper(stack, user_agent=WECHAT_UA)
        sign_in_inside_wechat(shopper)
        shopper.add(products[name])
        order_id = shopper.checkout()
        params, checked, paid = pay_inside_wechat(shopper, order_id)
        assert params["appId"] == oa_appid
        assert "problem" not in checked and paid == {"ok": True}, checked
        wait_for(lambda order_id=order_id: status(stack, order_id) == "PAID")
    rows = stack.query("SELECT channel, appid, sub_mchid, sub_appid FROM orders ORDER BY id")
    assert rows == [
        ("official-account", sp_appid, TEA, oa_appid),
        ("official-account", oa_appid, NOODLES, None),
    ]
    outs = [r[0] for r in stack.query("SELECT out_trade_no FROM orders ORDER BY id")]
    payers = [set(at_wechat(stack, out)["payer"]) for out in outs]
    assert payers == [{"sub_openid"}, {"sp_openid" if version == "v3" else "openid"}]
