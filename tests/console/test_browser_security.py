"""The console's session security in Chromium (tests/console/test_browser.py's browser, live
backend and simulator): a copied cookie in another browser, a refund after the freshness window,
TOTP enrolment and login, and ending a session from "Your sessions"."""

import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import update

from server.extensions import db
from server.models import StaffSession
from server.timeutil import utcnow
from tests.console import test_browser as browser
from tests.console.test_browser import ADMIN, DESKTOP, log_in, pay
from tests.support import wait_for
from tests.support.browser import expect
from tests.support.console import PASSWORD

pytestmark = pytest.mark.database_agnostic
# test_browser.py's stack with staff (Chromium and fresh contexts: tests/conftest.py).
shop = browser.shop  # the fixture, shared


OTHER_BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/140.0"


def audited(stack, action):
    return stack.query("SELECT actor, details FROM audit_log WHERE action = :a", a=action)


def test_a_session_cookie_replayed_in_another_browser_is_refused_and_audited(
    shop, open_page, chromium
):
    order = pay(shop, shop.login(), [{"product_id": 1, "quantity": 1}])
    page = open_page()
    log_in(page, shop, ADMIN)
    stolen = page.context.cookies()
    other = chromium.new_context(viewport=DESKTOP, locale="en-US", user_agent=OTHER_BROWSER)
    try:
        other.add_cookies(stolen)
        thief = other.new_page()
        thief.goto(f"{shop.backend}/console/orders/{order['id']}/refund")
        expect(thief).to_have_url(re.compile(r"/console/login"))
    finally:
        other.close()
    [(actor, details)] = audited(shop, "session.refused")
    assert actor == ADMIN and '"reason": "user_agent"' in details
    # The session is over: its own browser logs in again; no refund was made.
    page.reload()
    expect(page).to_have_url(re.compile(r"/console/login"))
    assert shop.query("SELECT count(*) FROM refunds") == [(0,)]


def test_a_refund_after_the_freshness_window_asks_for_the_password_again(shop, open_page):
    order = pay(shop, shop.login(), [{"product_id": 1, "quantity": 2}])
    page = open_page()
    log_in(page, shop, ADMIN)
    with shop.app.app_context():  # the password was typed 11 minutes ago (the window is 10)
        db.session.execute(update(StaffSession).values(fresh_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
    page.goto(f"{shop.backend}/console/orders/{order['id']}")
    page.click("text=Refund…")
    page.fill("#amount", "10")
    page.fill("#reason", "One coffee was cold")
    page.click("button:has-text('Continue')")
    expect(page.locator("h1")).to_have_text("Confirm it is you")
    page.fill("#reauth_password", "not the password")
    page.click("button:has-text('Confirm and continue')")
    expect(page.locator(".flash-error")).to_contain_text("Wrong email or password")
    page.fill("#reauth_password", PASSWORD)
    page.click("button:has-text('Confirm and continue')")
    # Back where it was: the refund's confirmation, with what was typed.
    expect(page.locator("h1")).to_have_text("Refund ¥10.00?")
    assert shop.query("SELECT count(*) FROM refunds") == [(0,)]
    page.click("button:has-text('Refund ¥10.00')")
    expect(page.locator(".flash-success")).to_be_visible()
    wait_for(
        lambda: (
            shop.query("SELECT status, reason FROM refunds") == [("SUCCESS", "One coffee was cold")]
        )
    )
    assert [a for a, _ in audited(shop, "reauth")] == [ADMIN]


def test_totp_enrolment_and_login(shop, open_page):
    page = open_page()
    log_in(page, shop, ADMIN)
    page.click(f"text={ADMIN}")  # "Your sessions"
    page.click("main >> text=Second factor")
    page.click("button:has-text('Set up a second factor')")
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("[data-totp-secret]").inner_text()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button:has-text('Turn on')")
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    page.click("text=I have stored them")
    page.click("button:has-text('Log out')")

    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Enter your code")
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.generate_otp(totp.timecode(time.time()) + 1))  # not the one used
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Overview")


def test_ending_a_session_from_your_sessions_logs_that_browser_out(shop, open_page):
    laptop, phone = open_page(), open_page()
    log_in(laptop, shop, ADMIN)
    log_in(phone, shop, ADMIN)
    laptop.goto(f"{shop.backend}/console/sessions")
    rows = laptop.locator("table.sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator("[data-this-session]")).to_have_count(1)
    rows.filter(has_not=laptop.locator("[data-this-session]")).locator("button").click()
    expect(laptop.locator(".flash-success")).to_contain_text("that browser is logged out")
    expect(rows).to_have_count(1)
    phone.reload()
    expect(phone).to_have_url(re.compile(r"/console/login"))
    laptop.reload()
    expect(laptop.locator("h1")).to_have_text("Your sessions")
