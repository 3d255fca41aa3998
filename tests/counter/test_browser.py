"""The cashier page in a real browser (Debian's Chromium through Playwright) against a live
backend and the simulator: a USB scanner is a keyboard that types 18 digits and Enter into the
focused field; the page shows the state live, then the receipt prints."""

import os
import re

import pytest

from tests.support import counter as c
from tests.support import require
from tests.support.console import PASSWORD, make_staff

pytestmark = pytest.mark.database_agnostic  # the database paths run in test_console.py

CHROMIUM = "/usr/bin/chromium"
CASHIER = "cashier@shop.test"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # requirements-dev.txt installs it; without it the tests skip (fail in CI)
    sync_playwright = None


@pytest.fixture(scope="module")
def chromium():
    require(sync_playwright is not None, "playwright is not installed (requirements-dev.txt)")
    require(os.access(CHROMIUM, os.X_OK), f"no browser at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def shop(make_stack):
    # The PIN takes 2.5 s below: time enough for the page to show it waiting.
    stack = make_stack(**{**c.FAST, "COUNTER_PIN_TIMEOUT_SECONDS": "10"})
    make_staff(stack.app, CASHIER, "cashier")
    return stack


def cashier_page(chromium, stack, viewport):
    context = chromium.new_context(viewport=viewport, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{stack.backend}/console/login")
    page.fill("#email", CASHIER)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
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
