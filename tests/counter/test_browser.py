"""The cashier page in a real browser (Debian's Chromium through Playwright) against a live
backend and the simulator: a USB scanner is a keyboard that types 18 digits and Enter into the
focused field; the page shows the state live, then the receipt prints."""

import re

import pytest

from tests.support import counter as c
from tests.support.browser import DESKTOP, PHONE, expect
from tests.support.console import PASSWORD, make_staff

pytestmark = pytest.mark.database_agnostic  # the database paths run in test_console.py

CASHIER = "cashier@shop.test"
OPERATOR, ADMIN = "operator@shop.test", "admin@shop.test"


@pytest.fixture
def shop(make_stack):
    # The PIN takes 2.5 s below: time enough for the page to show it waiting.
    stack = make_stack(**{**c.FAST, "COUNTER_PIN_TIMEOUT_SECONDS": "10"})
    for email, role in ((CASHIER, "cashier"), (OPERATOR, "operator"), (ADMIN, "admin")):
        make_staff(stack.app, email, role)
    return stack


def logged_in(chromium, stack, viewport, email):
    context = chromium.new_context(viewport=viewport, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{stack.backend}/console/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("nav")).to_be_visible()
    return context, page


def cashier_page(chromium, stack, viewport):
    context, page = logged_in(chromium, stack, viewport, CASHIER)
    page.click("nav >> text=Counter")
    expect(page.locator("h1")).to_have_text("Counter")
    return context, page


def scan(page, auth_code):
    """What a USB scanner does: keystrokes into the focused field, then Enter."""
    expect(page.locator("#counter-code")).to_be_focused()
    page.keyboard.type(auth_code, delay=5)
    page.keyboard.press("Enter")


def test_two_items_scanned_waiting_for_the_pin_then_paid_and_the_receipt(chromium, shop):
    context, page = cashier_page(chromium, shop, DESKTOP)
    try:
        page.click(".counter-product >> nth=0")
        page.click(".counter-product >> nth=1")
        expect(page.locator("#counter-lines tr")).to_have_count(2)
        scan(page, c.pin_pays(25))
        status = page.locator("#counter-status")
        expect(status).to_have_attribute("data-state", "PAYING")
        expect(page.locator("#counter-message")).to_contain_text("enter their PIN")
        expect(status).to_have_attribute("data-state", "SUCCESS")
        expect(page.locator("#counter-message")).to_have_text("Paid")
        with context.expect_page() as opened:
            page.click("#counter-receipt")
        receipt = opened.value
        expect(receipt.locator(".receipt")).to_have_attribute("data-paper", "80mm")
        expect(receipt.locator(".state")).to_have_attribute("data-state", "SUCCESS")
        expect(receipt.locator("tr.total")).to_be_visible()
        receipt.emulate_media(media="print")
        expect(receipt.locator(".no-print")).to_be_hidden()
        page.click("#counter-next")
        expect(page.locator("#counter-code")).to_be_focused()
    finally:
        context.close()


def test_a_failed_code_says_why_on_a_phone(chromium, shop):
    context, page = cashier_page(chromium, shop, PHONE)
    try:
        page.fill("#counter-amount", "12.30")
        expect(page.locator("#counter-total")).to_have_text("¥12.30")
        page.click("#counter-code")
        scan(page, c.code(c.EXPIRED))
        expect(page.locator("#counter-status")).to_have_attribute("data-state", "CLOSED")
        expect(page.locator("#counter-reason")).to_contain_text(re.compile("expired"))
        # A misread scan is refused on the page, before anything is sent.
        page.click("#counter-next")
        page.fill("#counter-amount", "1")
        page.click("#counter-code")
        scan(page, "6901234567892")
        expect(page.locator("#counter-status")).to_have_attribute("data-state", "ERROR")
        expect(page.locator("#counter-message")).to_contain_text("18 digits")
    finally:
        context.close()
    assert shop.query("SELECT count(*) FROM orders")[0][0] == 1  # the misread scan: none


def test_a_cashier_or_operator_gets_no_refund_action_and_a_403_with_a_code(chromium, shop):
    context, page = cashier_page(chromium, shop, DESKTOP)
    contexts = [context]
    try:
        page.fill("#counter-amount", "25")
        page.click("#counter-code")
        scan(page, c.code(c.PAYS))
        expect(page.locator("#counter-status")).to_have_attribute("data-state", "SUCCESS")
        [(order_id,)] = shop.query("SELECT id FROM orders")
        order = f"{shop.backend}/console/orders/{order_id}"
        # The admin sees both actions on this paid counter order; the others see neither.
        admin_context, admin = logged_in(chromium, shop, DESKTOP, ADMIN)
        contexts.append(admin_context)
        admin.goto(order)
        expect(admin.locator("a:has-text('Refund…')")).to_be_visible()
        expect(admin.locator("a:has-text('Reverse…')")).to_be_visible()
        operator_context, operator = logged_in(chromium, shop, PHONE, OPERATOR)
        contexts.append(operator_context)
        for who, staff_page in ((CASHIER, page), (OPERATOR, operator)):
            staff_page.goto(order)
            expect(staff_page.locator("h1")).to_contain_text("Paid")
            expect(staff_page.locator("a:has-text('Refund…')")).to_have_count(0)
            expect(staff_page.locator("a:has-text('Reverse…')")).to_have_count(0)
            # Typing the address: the console's 403 page, with its code.
            answer = staff_page.goto(f"{order}/refund")
            assert answer.status == 403
            expect(staff_page.locator("h1")).to_have_text("Not allowed")
            expect(staff_page.locator("[data-error-code]")).to_have_text("FORBIDDEN")
            # Posting the refund form with the session's own CSRF token: refused the same way.
            staff_page.goto(order)
            token = staff_page.locator("input[name=csrf_token]").first.get_attribute("value")
            for path, form in (
                ("refund", {"amount": "25", "reason": "x", "confirmed": "y"}),
                ("reverse", {"confirm": "y"}),
            ):
                posted = staff_page.request.post(
                    f"{order}/{path}", form={**form, "csrf_token": token}, max_redirects=0
                )
                assert posted.status == 403, (who, path, posted.status)
                assert 'data-error-code="FORBIDDEN"' in posted.text()
    finally:
        for each in contexts:
            each.close()
    assert shop.query("SELECT count(*) FROM refunds")[0][0] == 0
    assert shop.query("SELECT status FROM orders")[0][0] == "PAID"
    denied = shop.query("SELECT actor, target FROM audit_log WHERE action = 'denied'")
    for who in (CASHIER, OPERATOR):
        assert (who, f"/console/orders/{order_id}/refund") in denied
        assert (who, f"/console/orders/{order_id}/reverse") in denied
