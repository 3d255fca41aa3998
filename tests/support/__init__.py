"""What the tests share that is not a fixture (the fixtures are in the conftest.py files).

    stack.py          Stack (a running simulator + backend) and stack_factory, make_stack's work
    factories.py      paid, refunded and shipped orders built in the database, no HTTP
    concurrency.py    at_once: calls released together, for races
    orders.py         a paid order on a stack, an order made to look expired
    refunds.py        refunds through the domain on a stack, and reading them back
    shipping.py       `flask shipping ship` on a stack
    simulator.py      talking to the simulator alone: Merchant (v3 signing), Receiver
                      (a notify_url), cashier, faults, deliveries
    v2.py             API v2 XML: signed requests and notifications, the backend's refusals
    notifications.py  v3 notifications signed and encrypted like WeChat's
    contract.py       every /api/ response checked against server/api/openapi.json
    console.py        staff accounts and a logged-in console client
    live.py           LiveServer: a WSGI app over real HTTP in a thread
    processes.py      child processes (gunicorn, nginx, the simulator) and free ports
    tls.py            a test certificate authority and a server certificate for localhost
    sdk.py            the wechatpayv3 SDK pointed at the simulator
    browser.py        Debian's Chromium through Playwright: its path, viewports, ``expect``
                      (the fixtures ``chromium`` and ``open_page`` are in tests/conftest.py)
    production.py     settings a real deployment could start with

Here: ``require`` (skip, or fail in CI, when a component is missing), ``wait_for`` (poll until
true) and ``REPO`` (the repository's root).
"""

import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"


def require(condition, reason):
    """Skip a test that needs a missing component; in CI that is a failure instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll until ``predicate()`` is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")
