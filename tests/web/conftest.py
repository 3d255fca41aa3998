"""The web shop's browser fixtures: Debian's Chromium driven by Playwright (like tests/console),
a page per test in a fresh context with a chosen user agent and viewport."""

import os

import pytest

from tests.support import require

CHROMIUM = "/usr/bin/chromium"

try:
    from playwright.sync_api import sync_playwright
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
def open_page(chromium):
    """``open_page(user_agent=None, viewport=...)``: a page in a fresh browser context."""
    contexts = []

    def open_(user_agent=None, viewport=None, locale="en-US"):
        options = {"viewport": viewport or {"width": 1280, "height": 860}, "locale": locale}
        if user_agent:
            options["user_agent"] = user_agent
        context = chromium.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
