"""The web shop inside WeChat, in Chromium with WeChat's user agent and the simulator's stand-in
for WeChat's browser (sandbox/control/bridge.py): web authorisation, checkout, the JS-SDK's
wx.config, getBrandWCPayRequest, paid; and the refusals (a tampered state, a refused consent,
a snapshot-page user), after which nothing was created."""

import re

import pytest

from tests.support.browser import expect
from tests.support.web import WECHAT_UA

pytestmark = pytest.mark.database_agnostic


PHONE = {"width": 390, "height": 844}


def in_wechat(open_page):
    return open_page(user_agent=WECHAT_UA, viewport=PHONE)


def counts(stack):
    return stack.query("select (select count(*) from users), (select count(*) from orders)")[0]


def test_authorise_check_out_and_pay_with_getbrandwcpayrequest(stack, open_page):
    page = in_wechat(open_page)
    page.goto(f"{stack.backend}/shop/")
    # Silent authorisation (snsapi_base) happened on the way: the products are there (the
    # browser keeps the authorisation link's fragment through the redirects).
    expect(page).to_have_url(re.compile(rf"^{stack.backend}/shop/(#wechat_redirect)?$"))
    ((appid, openid),) = stack.query("select appid, openid from users")
    assert appid == stack.settings["WECHAT_OA_APPID"] and openid.startswith("oOA")

    page.locator("[data-product='1'] button").click()
    page.locator("[data-action=checkout]").click()
    expect(page).to_have_url(re.compile(r"/shop/orders/\d+$"))
    expect(page.locator("html")).to_have_attribute("data-wx-config", "ok")  # JS-SDK signature
    page.locator("[data-action=pay-jsapi]").click()
    # WeChat's cashier sheet (the stand-in), after it checked paySign and the directory.
    expect(page.locator("[data-wx-amount]")).to_have_text("¥18.00")
    page.locator("[data-wx-pay]").click()
    expect(page.locator("[data-when=paid]")).to_be_visible(timeout=8_000)
    ((channel, trade_type, order_appid, payer),) = stack.query(
        "select channel, trade_type, appid, payer_openid from orders"
    )
    assert (channel, trade_type, order_appid, payer) == ("official-account", "JSAPI", appid, openid)


def test_a_cancelled_payment_is_only_a_hint(stack, open_page):
    page = in_wechat(open_page)
    page.goto(f"{stack.backend}/shop/")
    page.locator("[data-product='2'] button").click()
    page.locator("[data-action=checkout]").click()
    page.locator("[data-action=pay-jsapi]").click()
    page.locator("[data-wx-cancel]").click()
    expect(page.locator("[data-hint=cancel]")).to_be_visible()
    expect(page.locator("[data-when=waiting]")).to_be_visible()
    assert stack.query("select status from orders")[0][0] == "NOTPAY"


def test_a_tampered_state_is_refused_and_nothing_is_created(stack, open_page):
    page = in_wechat(open_page)
    stack.control("oauth", refuse=True)  # stay on WeChat's side: the session has a state
    page.goto(f"{stack.backend}/shop/")
    page.goto(f"{stack.backend}/shop/oauth?code=stolen&state=tampered123")
    expect(page.locator("[data-error]")).to_contain_text("not valid")
    assert counts(stack) == (0, 0)


def test_a_refused_consent_gets_a_clear_page(stack, open_page):
    stack.control("oauth", refuse=True)
    page = in_wechat(open_page)
    page.goto(f"{stack.backend}/shop/")
    expect(page.locator("[data-error]")).to_contain_text("did not allow")
    assert counts(stack) == (0, 0)


def test_a_snapshot_page_user_gets_an_explanation_and_no_order(stack, open_page):
    stack.control("oauth", snapshot=True)
    page = in_wechat(open_page)
    page.goto(f"{stack.backend}/shop/")
    expect(page.locator("[data-error]")).to_contain_text("preview")
    assert counts(stack) == (0, 0)
