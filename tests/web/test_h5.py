"""H5 in a phone's browser, through the web shop's pages over HTTP, on SQLite and PostgreSQL,
with API v3 and v2: the browser goes to WeChat's H5 cashier (the simulator's) with a
redirect_url back to the order page, pays, comes back, and the order is paid; the cashier's
checks (Referer, H5 domain, the payer's address, inside WeChat) show WeChat's texts."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support import wait_for
from tests.support.web import PHONE_UA, WECHAT_UA, WebShopper, h5_url

V2 = {"WECHATPAY_API_VERSION": "v2", "WECHATPAY_API_KEY": "k" * 32}


@pytest.fixture(params=["v3", "v2"])
def web_stack(request, make_stack):
    return make_stack(**(V2 if request.param == "v2" else {}), SANDBOX_H5_DOMAIN="127.0.0.1")


def phone_order(stack, **headers):
    shopper = WebShopper(stack, user_agent=PHONE_UA)
    shopper.add(3)
    order_id = shopper.checkout()
    return shopper, order_id


def test_pay_in_the_h5_cashier_and_come_back_to_check(web_stack):
    shopper, order_id = phone_order(web_stack)
    (row,) = web_stack.query("select channel, trade_type, client_ip from orders")
    assert row == ("h5", "MWEB", "127.0.0.1")
    assert 'data-action="pay-h5"' in shopper.order_page(order_id).text

    url = h5_url(shopper, order_id)
    assert url.startswith(web_stack.sandbox + "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=")
    back = parse_qs(urlsplit(url).query)["redirect_url"][0]
    assert back == f"{web_stack.backend}/shop/orders/{order_id}?returned=1"
    browser = shopper.http
    cashier = browser.get(url, headers={"Referer": web_stack.backend + "/"}, timeout=10)
    assert cashier.status_code == 200 and "data-pay" in cashier.text
    prepay_id = parse_qs(urlsplit(url).query)["prepay_id"][0]
    returned = browser.post(
        url.split("?")[0],
        data={"prepay_id": prepay_id, "redirect_url": back, "action": "pay"},
        timeout=10,
    )
    # Back on the order page, which says to check and does not take the return as paid.
    assert returned.url == back and "data-returned" in returned.text
    wait_for(lambda: shopper.status(order_id)["state"] == "paid")
    (status,) = web_stack.query("select status from orders")[0]
    assert status == "PAID"


def test_the_cashier_shows_wechats_texts_when_a_check_fails(web_stack):
    shopper, order_id = phone_order(web_stack)
    url = h5_url(shopper, order_id)
    referer = {"Referer": web_stack.backend + "/shop/"}

    def problem(headers, address=url):
        answer = requests.get(address, headers={"User-Agent": PHONE_UA, **headers}, timeout=10)
        assert answer.status_code == 400
        return answer.text

    assert "商家参数格式有误" in problem({})  # no Referer
    assert "商家存在未配置的参数" in problem({"Referer": "https://elsewhere.example/"})
    assert "请在微信外打开订单" in problem({**referer, "User-Agent": WECHAT_UA})
    outside = url.replace("redirect_url=", "redirect_url=https%3A%2F%2Felsewhere.example%2F&x=")
    assert "商家存在未配置的参数" in problem(referer, outside)
    assert web_stack.query("select status from orders")[0][0] == "NOTPAY"


def test_the_payer_address_comes_through_the_trusted_proxy(make_stack):
    stack = make_stack(backend_settings={"TRUSTED_PROXY_COUNT": "1"})
    shopper = WebShopper(stack, user_agent=PHONE_UA)
    shopper.http.headers["X-Forwarded-For"] = "203.0.113.7"
    shopper.add(1)
    order_id = shopper.checkout()
    assert stack.query("select client_ip from orders")[0][0] == "203.0.113.7"
    # WeChat sees the browser at another address than the order's payer_client_ip.
    url = h5_url(shopper, order_id)
    answer = requests.get(url, headers={"Referer": stack.backend + "/"}, timeout=10)
    assert answer.status_code == 400 and "网络环境未能通过安全验证" in answer.text


def test_a_phone_can_ask_for_the_qr_code_instead(web_stack):
    shopper = WebShopper(web_stack, user_agent=PHONE_UA)
    shopper.add(1)
    assert 'data-action="checkout-qr"' in shopper.get("/shop/cart").text
    response = shopper.post("/shop/checkout", {"qr": "1"})
    order_id = int(response.url.rsplit("/", 1)[1])
    assert shopper.code_url(order_id)
    assert web_stack.query("select trade_type from orders")[0][0] == "NATIVE"


def test_an_expired_h5_url_is_refused_and_the_order_page_gives_a_new_one(web_stack):
    shopper, order_id = phone_order(web_stack)
    url = h5_url(shopper, order_id)
    referer = {"Referer": web_stack.backend + "/shop/"}
    ((out_trade_no,),) = web_stack.query("select out_trade_no from orders")
    web_stack.control(f"orders/{out_trade_no}/h5-url/expire")
    expired = shopper.http.get(url, headers=referer, timeout=10)
    assert expired.status_code == 400 and "支付请求已失效" in expired.text
    prepay_id = parse_qs(urlsplit(url).query)["prepay_id"][0]
    shopper.http.post(url.split("?")[0], data={"prepay_id": prepay_id, "action": "pay"})
    assert shopper.status(order_id)["state"] == "waiting"  # an expired link pays nothing
    fresh = h5_url(shopper, order_id)
    assert shopper.http.get(fresh, headers=referer, timeout=10).status_code == 200
    # The control names an H5 order; anything else is refused.
    control = f"{web_stack.sandbox}/sandbox/orders/%s/h5-url/expire"
    assert requests.post(control % "no-such-order", timeout=10).status_code == 404
    desktop = WebShopper(web_stack)
    desktop.add(1)
    desktop.checkout()
    ((native,),) = web_stack.query("select out_trade_no from orders where trade_type = 'NATIVE'")
    refused = requests.post(control % native, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "NOT_H5"
