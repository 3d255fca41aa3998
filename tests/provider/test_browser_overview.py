"""A service provider's overview in Chromium (tests/console/test_browser.py's browser, a live
backend and the simulator): a store's staff sees its store's figures, runs its store's
reconciliation and finds it on its overview; an admin sees every store, then picks one."""

import pytest

from server.domain.bills import beijing_today
from tests.console.test_browser import PHONE, shot
from tests.support.browser import expect
from tests.support.console import ADMIN, PASSWORD

from .support import TEA
from .test_overview import TEA_STAFF, two_stores_trading

pytestmark = pytest.mark.database_agnostic  # tests/provider/test_overview.py: both databases


def log_in(page, stack, email, heading):
    page.goto(f"{stack.backend}/console/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text(heading)


def test_a_store_and_an_admin_each_see_their_overview(make_stack, open_page):
    stack, (tea_order, noodle_order), _clients = two_stores_trading(make_stack)
    day = beijing_today().isoformat()

    page = open_page()
    log_in(page, stack, TEA_STAFF, "Overview · 茶铺")
    expect(page.locator(".stats [data-stat=paid-today]")).to_have_text("¥32.00")
    expect(page.locator(".stats [data-stat=refunded-week]")).to_have_text("¥0.00")
    expect(page.locator(".store-filter")).to_have_count(0)
    expect(page.locator("#stores")).to_have_count(0)
    expect(page.locator(f"a[href='/console/orders/{tea_order}']")).to_have_count(1)
    expect(page.locator(f"a[href='/console/orders/{noodle_order}']")).to_have_count(0)
    nav = page.locator("nav.nav")
    expect(nav).not_to_contain_text("Catalogue")
    expect(nav).not_to_contain_text("Needs attention")
    expect(page.locator("#store-reconciliation")).to_contain_text("has been reconciled yet")

    # Its store's reconciliation, from the menu: one run, the tea shop's.
    nav.locator("text=Reconciliation").click()
    page.fill("#day", day)
    page.click("button:has-text('Run this day')")
    expect(page.locator("h1")).to_contain_text(f"{day} · 茶铺")
    expect(page.locator("h1")).to_contain_text("Matches")
    assert stack.query("SELECT mchid, paid_total_ours FROM reconciliation_runs") == [(TEA, 3200)]
    nav.locator("text=Overview").click()
    expect(page.locator("#store-reconciliation [data-stat=reconciliation]")).to_contain_text(day)
    expect(page.locator("#store-reconciliation")).to_contain_text("Matches")
    shot(page, "provider-store-overview")

    admin = open_page()
    log_in(admin, stack, ADMIN, "Overview")
    expect(admin.locator(".stats [data-stat=paid-today]")).to_have_text("¥82.00")
    tea, noodles = (
        admin.locator("#stores tr[data-store=tea]"),
        admin.locator("#stores tr[data-store=noodles]"),
    )
    expect(tea.locator("[data-stat=paid-today]")).to_contain_text("¥32.00")
    expect(tea.locator("[data-stat=reconciliation]")).to_contain_text("Matches")
    expect(noodles.locator("[data-stat=paid-today]")).to_contain_text("¥50.00")
    expect(noodles.locator("[data-stat=refunded-week]")).to_have_text("¥10.00")
    expect(noodles.locator("[data-stat=attention]")).to_have_text("1")
    expect(noodles.locator("[data-stat=reconciliation]")).to_contain_text("not yet")
    shot(admin, "provider-overview")
    admin.locator(".store-filter >> text=面馆").click()
    expect(admin.locator("h1")).to_have_text("Overview · 面馆")
    expect(admin.locator(".stats [data-stat=paid-today]")).to_have_text("¥50.00")
    expect(admin.locator("#orders-needing-attention")).to_contain_text("asks for a refund")
    admin.locator(".stats a:has-text('Paid today')").click()  # its orders, this store's
    expect(admin.locator(f"a[href='/console/orders/{noodle_order}']").first).to_be_visible()
    expect(admin.locator(f"a[href='/console/orders/{tea_order}']")).to_have_count(0)

    phone = open_page(PHONE)
    log_in(phone, stack, ADMIN, "Overview")
    phone.wait_for_load_state()  # the stylesheet too: it fits the chart to the screen
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the overview is {width}px wide"
