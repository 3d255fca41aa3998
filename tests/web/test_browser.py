"""The web shop in a real browser (Chromium through Playwright, against a live backend and the
simulator, on SQLite): a desktop checks out, sees a QR code and the time left, the code is
scanned in the simulator's page, and the order page turns to paid by itself; a code that
expires turns the page to expired."""

import re

import pytest

from server.extensions import db
from server.models import Order
from tests.support.browser import expect
from tests.support.orders import expire

pytestmark = pytest.mark.database_agnostic


def check_out(page, stack, product_id=1):
    page.goto(f"{stack.backend}/shop/")
    page.locator(f"[data-product='{product_id}'] button").click()
    expect(page.locator("[data-total]")).to_be_visible()
    page.locator("[data-action=checkout]").click()
    expect(page).to_have_url(re.compile(r"/shop/orders/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def test_desktop_qr_code_scanned_in_the_simulator_turns_the_page_paid(stack, open_page):
    page = open_page()
    check_out(page, stack)
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.locator("[data-time-left]")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    expect(page.locator("[data-when=paid]")).to_be_hidden()

    # The payer "scans" the code: the simulator's page, in another tab.
    with page.context.expect_page() as opened:
        page.locator("[data-simulator-scan]").click()
    scanner = opened.value
    expect(scanner.locator("body")).to_contain_text("¥18.00")
    scanner.locator("[data-pay]").click()
    expect(scanner.locator("[data-paid]")).to_have_text("支付成功")

    # The order page polls its own backend and shows paid within seconds.
    expect(page.locator("[data-when=paid]")).to_be_visible(timeout=8_000)
    expect(page.locator("[data-when=waiting]")).to_be_hidden()
    page.goto(f"{stack.backend}/shop/orders")
    expect(page.locator("[data-state=paid]")).to_have_count(1)
    page.goto(f"{stack.backend}/shop/cart")  # what was paid for is no longer in the cart
    expect(page.locator("[data-total]")).to_have_count(0)


def test_an_expired_qr_code_turns_the_page_expired(stack, open_page):
    page = open_page()
    order_id = check_out(page, stack, product_id=2)
    expect(page.locator(".qr svg")).to_be_visible()
    expire(stack, order_id)  # its time_expire passes while the page is open
    expect(page.locator("[data-when=expired]")).to_be_visible(timeout=8_000)
    expect(page.locator(".qr svg")).to_be_hidden()
    page.reload()
    expect(page.locator("[data-when=expired]")).to_be_visible()
    expect(page.locator(".qr svg")).to_have_count(0)


def test_the_shop_is_chinese_by_default(stack, open_page):
    page = open_page(locale="zh-CN")
    page.goto(f"{stack.backend}/shop/")
    expect(page.locator("h1")).to_have_text("商品")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Products")


def test_phone_pays_in_the_h5_cashier_comes_back_and_checks(stack, open_page):
    from tests.support.web import PHONE_UA

    page = open_page(user_agent=PHONE_UA, viewport={"width": 390, "height": 844})
    order_id = check_out(page, stack, product_id=3)
    expect(page.locator("[data-action=pay-h5]")).to_be_visible()
    page.locator("[data-action=pay-h5]").click()
    # WeChat's H5 cashier (the simulator's), then back to the order page.
    expect(page.locator("[data-pay]")).to_be_visible()
    expect(page.locator("body")).to_contain_text("¥12.50")
    page.locator("[data-pay]").click()
    expect(page).to_have_url(re.compile(rf"/shop/orders/{order_id}\?returned=1$"))
    # The page for a return: "check" and the note, shown while the order waits (on a busy
    # machine the notification may already have come, and the page shows paid at once).
    expect(page.locator("[data-returned]")).to_have_count(1)
    check_until_paid(page)


def check_until_paid(page):
    """Press "check again" until the backend knows (the notification, or its query of WeChat,
    may take a moment on a busy machine: a person presses again too)."""
    for _attempt in range(10):
        if page.locator("[data-when=paid]").is_visible():  # the page's own poll got there
            break
        page.locator("[data-action=check]").click()
        page.wait_for_timeout(1_000)
    expect(page.locator("[data-when=paid]")).to_be_visible()


def test_an_expired_h5_url_shows_wechats_error_and_the_order_page_pays_again(stack, open_page):
    from tests.support.web import PHONE_UA

    page = open_page(user_agent=PHONE_UA, viewport={"width": 390, "height": 844})
    order_id = check_out(page, stack, product_id=3)
    page.locator("[data-action=pay-h5]").click()
    expect(page.locator("[data-pay]")).to_be_visible()
    # The payer waits too long at WeChat's cashier: the h5_url runs out.
    ((out_trade_no,),) = stack.query("select out_trade_no from orders where id = :i", i=order_id)
    stack.control(f"orders/{out_trade_no}/h5-url/expire")
    page.reload()
    expect(page.locator("[data-problem]")).to_have_text("支付请求已失效，请重新发起支付")
    expect(page.locator("[data-pay]")).to_have_count(0)

    # Back on the shop's order page: still waiting, "check" says not paid, "pay" again works.
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/shop/orders/{order_id}$"))
    expect(page.locator("[data-when=waiting]")).to_be_visible()
    page.locator("[data-action=check]").click()
    expect(page.locator("[data-checked]")).to_be_visible()
    expect(page.locator("[data-when=waiting]")).to_be_visible()
    page.locator("[data-action=pay-h5]").click()  # a fresh h5_url for the same order
    page.locator("[data-pay]").click()
    expect(page).to_have_url(re.compile(rf"/shop/orders/{order_id}\?returned=1$"))
    check_until_paid(page)
    assert stack.query("select count(*), min(status) from orders") == [(1, "PAID")]


def test_goods_that_ship_ask_for_the_address_and_the_order_keeps_it(stack, open_page):
    # The demo's coffee beans (product 4) ship; pastries do not and ask for nothing.
    page = open_page(locale="zh-CN")
    page.goto(f"{stack.backend}/shop/")
    page.locator("[data-product='4'] button").click()
    expect(page.locator("[data-address]")).to_be_visible()
    form = {
        "name": "张三",
        "phone": "138 0000 5678",
        "province": "广东省",
        "city": "广州市",
        "district": "海珠区",
        "detail": "新港中路397号",
    }
    for name, value in form.items():
        page.locator(f"[name=address_{name}]").fill(value)
    page.locator("[name=address_phone]").fill("12345")  # not a phone: refused, kept as typed
    page.locator("[data-action=checkout]").click()
    expect(page.locator("[data-problem]")).to_be_visible()
    expect(page.locator("[name=address_detail]")).to_have_value("新港中路397号")
    page.locator("[name=address_phone]").fill(form["phone"])
    page.locator("[data-action=checkout]").click()
    expect(page).to_have_url(re.compile(r"/shop/orders/\d+$"))
    with stack.app.app_context():
        order = db.session.get(Order, int(page.url.rsplit("/", 1)[1]))
        assert (order.recipient_name, order.recipient_phone) == ("张三", "13800005678")
        assert order.recipient_detail == "新港中路397号"


def test_a_guest_asks_for_a_refund_of_a_paid_qr_order_and_the_console_sees_it(stack, open_page):
    from tests.support.console import staffed
    from tests.support.web import scan

    page = open_page()
    order_id = check_out(page, stack)
    code_url = page.locator("[data-code-url]").get_attribute("data-code-url")
    expect(page.locator("[data-refund-request]")).to_be_hidden()  # not paid: nothing to ask
    assert scan(stack, code_url).status_code == 200  # the payer scans and pays
    expect(page.locator("[data-when=paid]")).to_be_visible(timeout=8_000)
    # The page's own poll saw the payment: the form is there without a reload.
    page.locator("[data-refund-request] summary").click()
    page.locator("[name=reason]").fill("买多了")
    page.locator("[data-action=request-refund]").dblclick()  # one request all the same
    expect(page.locator("[data-refund-asked=PENDING]")).to_be_visible()
    expect(page.locator("[data-refund-request]")).to_have_count(0)
    assert stack.query("select order_id, user_id, status, reason from refund_requests") == [
        (order_id, None, "PENDING", "买多了")
    ]
    # Another browser knows nothing of the order.
    stranger = open_page()
    assert stranger.goto(f"{stack.backend}/shop/orders/{order_id}").status == 404
    # The staff see the guest's request, with the amount the server says is left.
    admin, _ = staffed(stack)
    listed = admin.get("/console/refund-requests").text
    assert "买多了" in listed and "data-guest" in listed and "¥18.00" in listed
