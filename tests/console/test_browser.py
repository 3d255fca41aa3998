"""The staff console in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
never a downloaded one) against a live backend and the simulator, on SQLite.

With CONSOLE_SCREENSHOTS=<folder> (scripts/console_screenshots.py sets it) the tests also save
screenshots of the main pages there: docs/console/ in the README.
"""

import os
import re
from pathlib import Path

import pytest

from server.domain.catalogue import DEMO_CATALOGUE
from tests.support import wait_for
from tests.support.browser import DESKTOP, PHONE, expect
from tests.support.console import PASSWORD, make_staff

# What a browser shows and does; the console's database work runs on PostgreSQL in the
# other tests of tests/console/ and the domain tests.
pytestmark = pytest.mark.database_agnostic

ADMIN, OPERATOR = "admin@shop.test", "operator@shop.test"
COFFEE = DEMO_CATALOGUE[0]["name"]  # product 1, 18.00 yuan
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


@pytest.fixture
def shop(stack):
    """The stack with an admin and an operator, and a user who paid one order."""
    make_staff(stack.app, ADMIN, "admin")
    make_staff(stack.app, OPERATOR, "operator")
    return stack


def pay(stack, auth, items=None):
    created = stack.create_order(auth, items).json()
    stack.cashier(created["pay_params"])
    order_id = created["order"]["id"]
    return wait_for(
        lambda: (o := stack.order(auth, order_id).json()["order"])["status"] == "PAID" and o
    )


def log_in(page, stack, email, password=PASSWORD):
    page.goto(f"{stack.backend}/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Overview")


def shot(page, name, full_page=True):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


def product_row(stack, product_id=1):
    return stack.query("SELECT name, price, active FROM products WHERE id = :id", id=product_id)[0]


def test_find_a_paid_order_and_see_its_timeline(shop, open_page):
    auth = shop.login("o-browser-user")
    order = pay(shop, auth, [{"product_id": 1, "quantity": 2}, {"product_id": 3, "quantity": 1}])
    page = open_page()
    log_in(page, shop, OPERATOR)
    expect(page.locator("[data-stat=paid-today]")).to_have_text("¥48.50")

    page.click("nav >> text=Orders")
    page.fill("#q", order["out_trade_no"])
    page.click("button:has-text('Filter')")
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("¥48.50")
    expect(rows.first).to_contain_text("Paid")
    for term in ("o-browser-user", f"#{order['id']}"):  # the payer's openid, the order's id
        page.fill("#q", term)
        page.click("button:has-text('Filter')")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(order["out_trade_no"])

    rows.first.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text(order["out_trade_no"])
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Order created")
    expect(timeline).to_contain_text("Payment notification: paid")
    page.click("#timeline details summary >> nth=0")
    expect(timeline.locator("pre").first).to_contain_text(order["out_trade_no"])
    # An operator syncs, but is offered no money actions.
    page.click("button:has-text('Sync with WeChat')")
    expect(page.locator(".flash-success")).to_contain_text("Synced with WeChat")
    expect(page.locator("text=Close order")).to_have_count(0)
    expect(page.locator("text=Refund…")).to_have_count(0)


def test_refund_part_of_a_paid_order_through_to_success(shop, open_page):
    order = pay(shop, shop.login(), [{"product_id": 1, "quantity": 2}])
    page = open_page()
    log_in(page, shop, ADMIN)
    page.click("nav >> text=Orders")
    page.fill("#q", order["out_trade_no"])
    page.click("button:has-text('Filter')")
    page.click(f"text={order['out_trade_no']}")
    page.click("text=Refund…")
    expect(page.locator("#amount")).to_have_value("36.00")  # all that is left
    page.fill("#amount", "10")
    page.click("button:has-text('Continue')")
    expect(page.locator(".field.has-error")).to_contain_text("A reason is required")
    page.fill("#reason", "One coffee was cold")
    page.click("button:has-text('Continue')")
    expect(page.locator("h1")).to_have_text("Refund ¥10.00?")
    assert shop.query("SELECT count(*) FROM refunds") == [(0,)]
    page.click("button:has-text('Refund ¥10.00')")
    expect(page.locator(".flash-success")).to_be_visible()
    wait_for(lambda: shop.query("SELECT status FROM refunds") == [("SUCCESS",)])
    page.reload()
    expect(page.locator("#refunds tbody tr")).to_contain_text("Refunded")
    expect(page.locator("#refunds tbody tr")).to_contain_text("One coffee was cold")
    expect(page.locator("#timeline")).to_contain_text("Refund notification: Refunded")
    expect(page.locator(".facts")).to_contain_text("¥26.00 left to refund")
    assert shop.query("SELECT status FROM orders") == [("PAID",)]  # partly refunded


def test_approve_a_users_refund_request(shop, open_page):
    auth = shop.login()
    order = pay(shop, auth)
    asked = __import__("requests").post(
        f"{shop.backend}/api/orders/{order['id']}/refund-request",
        json={"reason": "Ordered the wrong drink"},
        headers=auth,
    )
    assert asked.status_code == 201
    page = open_page()
    log_in(page, shop, ADMIN)
    expect(page.locator("nav >> text=Refund requests")).to_contain_text("1")
    page.click("nav >> text=Refund requests")
    request = page.locator("article.request")
    expect(request).to_contain_text("Ordered the wrong drink")
    request.locator("textarea").fill("Refunded in full, see you soon")
    expect(request.locator("input[name=amount]")).to_have_value("18.00")  # all that is left
    request.locator("button:has-text('Approve and refund')").click()
    expect(page.locator(".flash-success")).to_be_visible()
    wait_for(lambda: shop.query("SELECT status FROM orders") == [("REFUNDED",)])
    assert shop.query("SELECT status, note FROM refund_requests") == [
        ("APPROVED", "Refunded in full, see you soon")
    ]
    page.click("text=Approved")
    expect(page.locator("article.request")).to_contain_text("Approved")


def test_an_admin_edits_a_product_with_form_errors_first(shop, open_page):
    page = open_page()
    log_in(page, shop, ADMIN)
    page.click("nav >> text=Catalogue")
    page.click(f"tr:has-text('{COFFEE}') >> text=Edit")
    expect(page.locator("#price")).to_have_value("18.00")
    page.fill("#price", "19.999")
    page.click("button:has-text('Save')")
    expect(page.locator(".field.has-error")).to_contain_text("at most two decimals")
    assert product_row(shop) == (COFFEE, 1800, True)
    page.fill("#name", "手冲咖啡 大杯")
    page.fill("#price", "19.9")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Saved 手冲咖啡 大杯")
    expect(page.locator("tr:has-text('手冲咖啡 大杯')")).to_contain_text("¥19.90")
    assert product_row(shop) == ("手冲咖啡 大杯", 1990, True)
    assert [p["price"] for p in shop.products() if p["id"] == 1] == [1990]

    page.click("nav >> text=Audit log")
    entry = page.locator("table.audit tbody tr").first
    expect(entry).to_contain_text("Changed a product")
    expect(entry).to_contain_text(ADMIN)
    expect(entry).to_contain_text("127.0.0.1")


def test_a_forged_or_missing_csrf_token_is_refused(shop, open_page):
    page = open_page()
    log_in(page, shop, ADMIN)
    page.goto(f"{shop.backend}/console/catalogue/1")
    page.fill("#price", "0.01")
    page.eval_on_selector("form:has(#price) input[name=csrf_token]", "e => e.value = 'forged'")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Form expired")
    page.goto(f"{shop.backend}/console/catalogue/1")
    page.eval_on_selector("form:has(#price) input[name=csrf_token]", "e => e.remove()")
    page.fill("#price", "0.01")
    page.click("button:has-text('Save')")
    expect(page.locator("h1")).to_have_text("Form expired")
    assert product_row(shop) == (COFFEE, 1800, True)


def test_an_operator_is_refused_admin_actions(shop, open_page):
    order = shop.create_order(shop.login()).json()["order"]
    page = open_page()
    log_in(page, shop, OPERATOR)
    page.goto(f"{shop.backend}/console/catalogue")
    expect(page.locator("text=New product")).to_have_count(0)
    page.goto(f"{shop.backend}/console/catalogue/1")
    expect(page.locator("h1")).to_have_text("Not allowed")
    # A hand-made POST with a valid token: still refused, nothing closed.
    page.goto(f"{shop.backend}/console/orders/{order['id']}")
    status = page.evaluate(
        """async (path) => {
        const token = document.querySelector('input[name=csrf_token]').value;
        const answer = await fetch(path, {method: 'POST', body: new URLSearchParams(
            {csrf_token: token}), redirect: 'manual'});
        return answer.status; }""",
        f"/console/orders/{order['id']}/close",
    )
    assert status == 403
    assert shop.query("SELECT status FROM orders") == [("NOTPAY",)]


def test_an_expired_session_changes_nothing(make_stack, open_page):
    stack = make_stack(CONSOLE_SESSION_SECONDS="2")
    make_staff(stack.app, ADMIN, "admin")
    page = open_page()
    log_in(page, stack, ADMIN)
    page.goto(f"{stack.backend}/console/catalogue/1")
    page.fill("#price", "0.01")
    page.wait_for_timeout(2500)
    page.click("button:has-text('Save')")
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.locator(".flash-error")).to_contain_text("Your session has ended")
    assert product_row(stack) == (COFFEE, 1800, True)


def test_the_console_fits_a_phone(shop, open_page):
    pay(shop, shop.login())
    page = open_page(PHONE)
    log_in(page, shop, ADMIN)
    for path in (
        "/console/",
        "/console/orders",
        "/console/catalogue",
        "/console/orders/1",
        "/console/audit",
        "/console/attention",
        "/console/reconciliation",
    ):
        page.goto(shop.backend + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide"
        expect(page.locator("nav.nav")).to_be_visible()
    page.goto(f"{shop.backend}/console/orders/1")


def test_resolve_a_reconciliation_difference_and_record_a_shipment(shop, open_page):
    """The two pages of the bills and shipping work: a day's bill with a payment we do not
    have, resolved with a note; a paid order shipped as two express parcels. Both are
    photographed for the README when CONSOLE_SCREENSHOTS is set, and must fit a phone."""
    from server.domain.bills import beijing_today

    order = pay(shop, shop.login(), [{"product_id": 1, "quantity": 2}])
    day = beijing_today().isoformat()
    unknown = shop.control(f"bills/{day}", kind="payment", total=888)["change"]
    page = open_page()
    log_in(page, shop, ADMIN)
    page.click("nav >> text=Reconciliation")
    page.fill("#day", day)
    page.click("button:has-text('Run this day')")
    expect(page.locator("h1")).to_contain_text(day)
    expect(page.locator("[data-total=paid-ours]")).to_have_text("¥36.00")
    expect(page.locator("[data-total=paid-wechat]")).to_have_text("¥44.88")
    difference = page.locator("#differences article")
    expect(difference).to_contain_text("Payment we do not have")
    expect(difference).to_contain_text(unknown["out_trade_no"])
    expect(page.locator("nav >> text=Needs attention")).to_contain_text("1")
    shot(page, "reconciliation")
    with page.expect_download() as download:
        page.click("text=Download bill (CSV)")
    assert download.value.suggested_filename == f"tradebill-{day}.csv"
    difference.locator("button:has-text('Mark resolved')").click()  # the note is required
    assert shop.query("SELECT resolved_at FROM bill_differences") == [(None,)]
    difference.locator("textarea").fill("Another shop on our merchant account")
    difference.locator("button:has-text('Mark resolved')").click()
    expect(page.locator(".flash-success")).to_have_text("Resolved.")
    expect(difference).to_contain_text("Resolved")
    expect(page.locator("h1")).to_contain_text("Matches")
    assert shop.query("SELECT resolved_by, note FROM bill_differences") == [
        (ADMIN, "Another shop on our merchant account")
    ]

    page.goto(f"{shop.backend}/console/orders/{order['id']}")
    block = page.locator("#shipping")
    block.locator("#logistics").select_option("express")
    block.locator("#parcels-0-tracking_no").fill("YT1000")
    block.locator("#parcels-1-tracking_no").fill("ZT2000")
    block.locator("#parcels-1-express_company").fill("ZTO")
    block.locator("button:has-text('Record and upload')").click()
    expect(block.locator(".field.has-error")).to_contain_text("express_company")
    assert shop.query("SELECT count(*) FROM shipments") == [(0,)]
    block.locator("#parcels-0-express_company").fill("YTO")
    block.locator("button:has-text('Record and upload')").click()
    expect(page.locator(".flash-success")).to_contain_text("WeChat has it")
    expect(block.locator("tbody tr")).to_have_count(2)
    expect(block).to_contain_text("Uploaded to WeChat")
    shop.control("shipping/confirm", transaction_id=order["transaction_id"])
    block.locator("button:has-text('Sync with WeChat')").click()
    expect(block.locator("[data-wechat-state]")).to_contain_text("completed")
    shot(page, "shipping")
    assert shop.query("SELECT status, upload_count FROM shipments") == [("SHIPPED", 1)]

    phone = open_page(PHONE)
    log_in(phone, shop, ADMIN)
    for path in (
        "/console/reconciliation",
        "/console/reconciliation/1",
        f"/console/orders/{order['id']}",
    ):
        phone.goto(shop.backend + path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide"
    phone.evaluate("document.getElementById('shipping').scrollIntoView()")
    shot(phone, "phone-shipping", full_page=False)


def test_a_tour_of_the_main_pages(shop, open_page):
    """A shop with some history; each main page shows it (and is photographed for the README
    when CONSOLE_SCREENSHOTS is set)."""
    from tests.support.notifications import signed_notification, transaction_for

    alice, bob = shop.login("o-alice-0000000000000001"), shop.login("o-bob-00000000000000002")
    pay(shop, alice, [{"product_id": 1, "quantity": 2}])
    pay(shop, bob, [{"product_id": 2, "quantity": 1}, {"product_id": 3, "quantity": 2}])
    pay(shop, alice, [{"product_id": 3, "quantity": 1}])
    last = pay(shop, bob, [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 1}])
    shop.create_order(alice, [{"product_id": 3, "quantity": 1}])
    odd = shop.create_order(bob).json()["order"]
    assert (
        __import__("requests")
        .post(
            f"{shop.backend}/api/orders/{last['id']}/refund-request",
            json={"reason": "The latte was cold"},
            headers=bob,
        )
        .status_code
        == 201
    )
    headers, body = signed_notification(
        shop.settings, transaction_for(shop.settings, odd, amount={"total": odd["total"] + 100})
    )
    shop_post = __import__("requests").post(
        f"{shop.backend}/api/pay/notify", data=body, headers=headers
    )
    assert shop_post.status_code == 400  # kept as REFUSED.AMOUNT_MISMATCH for a person

    page = open_page()
    log_in(page, shop, ADMIN)
    expect(page.locator("[data-stat=paid-today]")).to_have_text("¥135.50")
    expect(page.locator("[data-stat=refunded-week]")).to_have_text("¥0.00")
    expect(page.locator("[data-stat=awaiting]")).to_have_text("2")
    expect(page.locator("nav >> text=Needs attention")).to_contain_text("1")
    shot(page, "overview")
    page.click("nav >> text=Orders")
    expect(page.locator("table.orders tbody tr")).to_have_count(4)  # paid ones, by default
    page.select_option("#status", "NOTPAY")
    page.click("button:has-text('Filter')")
    expect(page.locator("table.orders tbody tr")).to_have_count(2)
    page.select_option("#status", "all")
    page.click("button:has-text('Filter')")
    expect(page.locator("table.orders tbody tr")).to_have_count(6)
    shot(page, "orders")
    page.click(f"text={last['out_trade_no']}")
    page.click("text=Refund…")
    page.fill("#amount", "5")
    page.fill("#reason", "Latte was cold")
    page.click("button:has-text('Continue')")
    shot(page, "refund-confirm", full_page=False)
    page.click("button:has-text('Refund ¥5.00')")
    wait_for(lambda: shop.query("SELECT status FROM refunds") == [("SUCCESS",)])
    page.click("button:has-text('Sync with WeChat')")
    for said in ("Payment notification: paid", "Refund notification: Refunded", "Asked WeChat"):
        expect(page.locator("#timeline")).to_contain_text(said)
    shot(page, "order")
    page.click("nav >> text=Refund requests")
    expect(page.locator("article.request")).to_contain_text("The latte was cold")
    shot(page, "refund-requests")
    page.click("nav >> text=Needs attention")
    expect(page.locator("#refused")).to_contain_text("Refused message: a different amount")
    shot(page, "attention")
    page.click("nav >> text=Catalogue")
    expect(page.locator("tbody tr")).to_have_count(len(DEMO_CATALOGUE))
    shot(page, "catalogue")
    page.click("nav >> text=Audit log")
    expect(page.locator("table.audit")).to_contain_text("Synced an order with WeChat")
    shot(page, "audit")

    page.goto(f"{shop.backend}/console/catalogue/2")
    expect(page.locator("#price")).to_have_value("22.00")
    shot(page, "product", full_page=False)

    phone = open_page(PHONE)
    phone.goto(f"{shop.backend}/console/login")
    shot(phone, "phone-login", full_page=False)
    log_in(phone, shop, ADMIN)
    shot(phone, "phone-overview", full_page=False)
    phone.goto(f"{shop.backend}/console/orders/{last['id']}")
    shot(phone, "phone-order", full_page=False)


# What each language shows (the staff member's own language; the login page the browser's).
LANGUAGES = {
    "zh_Hans": {
        "locale": "zh-CN",
        "login": "登录",
        "overview": "概览",
        "orders": "订单",
        "exports": "导出",
        "paid": "已支付",
        "timeline": "支付通知：已支付",
        "search": "筛选",
        "takings": "最近 30 天收入",
        "headers": ("订单号", "金额（元）", "金额（分）", "状态"),
    },
    "en": {
        "locale": "en-US",
        "login": "Log in",
        "overview": "Overview",
        "orders": "Orders",
        "exports": "Exports",
        "paid": "Paid",
        "timeline": "Payment notification: paid",
        "search": "Filter",
        "takings": "Takings, the last 30 days",
        "headers": ("Order number", "Total (yuan)", "Total (fen)", "Status"),
    },
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_console_in_each_language(shop, chromium, language, tmp_path):
    """Log in, see the takings chart, find an order by part of a product's name, open it, and
    export the orders as CSV (downloaded, read back: the right rows and totals). In Chinese the
    pages are photographed for the docs (zh-*.png) when CONSOLE_SCREENSHOTS is set."""
    import csv

    says = LANGUAGES[language]
    email = f"{language.lower()}@shop.test"
    make_staff(shop.app, email, "admin", language=language)
    alice, bob = shop.login("o-alice-0000000000000001"), shop.login("o-bob-00000000000000002")
    coffee = pay(shop, alice, [{"product_id": 1, "quantity": 2}])  # 手冲咖啡 x2: 36.00
    other = pay(shop, bob, [{"product_id": 2, "quantity": 1}, {"product_id": 3, "quantity": 1}])
    shop.create_order(alice, [{"product_id": 3, "quantity": 1}])  # unpaid: not exported

    context = chromium.new_context(viewport=DESKTOP, locale=says["locale"], accept_downloads=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"{shop.backend}/console/")
        expect(page.locator("h1")).to_have_text(says["login"])  # the browser's language
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click(f"button:has-text('{says['login']}')")
        expect(page.locator("h1")).to_have_text(says["overview"])  # the account's language
        expect(page.locator("html")).to_have_attribute("lang", language.replace("_", "-"))
        expect(page.locator("#takings h2")).to_have_text(says["takings"])
        expect(page.locator("#takings svg.chart g.day")).to_have_count(30)
        today = page.locator("#takings svg.chart g.day").last
        expect(today).to_have_attribute("data-paid-fen", str(coffee["total"] + other["total"]))
        expect(page.locator("[data-stat=paid-today]")).to_have_text("¥70.50")
        if language == "zh_Hans":
            shot(page, "zh-overview")

        page.click(f"nav >> text={says['orders']}")
        rows = page.locator("table.orders tbody tr")
        expect(rows).to_have_count(2)  # paid ones
        page.fill("#q", COFFEE[:2])  # 手冲: part of 手冲咖啡
        page.click(f"button:has-text('{says['search']}')")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(coffee["out_trade_no"])
        expect(rows.first).to_contain_text(says["paid"])
        expect(rows.first.locator(".badge")).to_have_attribute("title", "PAID")  # the code
        if language == "zh_Hans":
            shot(page, "zh-orders")
        rows.first.locator("a").first.click()
        expect(page.locator("h1")).to_contain_text(coffee["out_trade_no"])
        expect(page.locator("#timeline")).to_contain_text(says["timeline"])
        if language == "zh_Hans":
            shot(page, "zh-order")

        page.click(f"nav >> text={says['exports']}")
        with page.expect_download() as download:
            page.click("#export-orders button[type=submit]")
        path = tmp_path / "orders.csv"
        download.value.save_as(path)
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        with open(path, encoding="utf-8-sig", newline="") as exported:
            header, *lines = list(csv.reader(exported))
        number, yuan, fen, state = (header.index(name) for name in says["headers"])
        assert sorted(line[number] for line in lines) == sorted(
            [coffee["out_trade_no"], other["out_trade_no"]]
        )
        assert sum(int(line[fen]) for line in lines) == 7050
        assert f"{sum(float(line[yuan]) for line in lines):.2f}" == "70.50"
        assert {line[state] for line in lines} == {says["paid"]}
    finally:
        context.close()
