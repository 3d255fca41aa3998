"""Real Chromium for the web pages' tests (the console, the cashier, the web shop): Debian's
(/usr/bin/chromium, never a downloaded one), driven by Playwright. The fixtures ``chromium``
and ``open_page`` are in tests/conftest.py."""

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # requirements-dev.txt installs it; without it the tests skip (fail in CI)
    expect = sync_playwright = None
