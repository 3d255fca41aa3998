"""Shared fixtures: real simulator + real backend over HTTP, on SQLite and PostgreSQL.

Layout: one folder per feature.

    payments/   checkout, the orders API, payment notifications, the loop on API v3 and v2
    refunds/    refunds end to end (v3 and v2), their notifications, users' requests, settings
    bills/      daily bills and reconciliation (fixtures/: real WeChat bills)
    shipping/   shipping info, the message push, the user's confirmation of receipt
    console/    the staff console, through Flask's test client and in a real browser
    sandbox/    the WeChat simulator on its own: raw v3 and v2, and through an SDK
    protocol/   crypto and signatures pinned to official vectors; the gateways against the
                simulator (v2 payments and refunds, failover, platform certificates)
    deploy/     nginx, gunicorn, proxy headers, `make dev`
    app/        settings, doctor, jobs, migrations, rate limits, hostile input, request ids,
                login, the catalogue, the API contract
    support/    what the tests share that is not a fixture: the stack, factories that build
                orders in the database, the race helper, the simulator's helpers, signed
                notifications... (its __init__.py lists them)
    miniprogram/ and sdk-node/: the Node tests (`npm test`)

This file (and a folder's own conftest.py) holds fixtures and pytest hooks only.

``stack`` is the default deployment (API v3, WeChat Pay public key mode); ``make_stack(...)``
builds others (certificate mode, v2, ...); ``domain_app`` is an app with no servers at all, for
domain tests that build their orders in the database (support/factories.py). Every test that
uses a database (``database_url``, so every stack and every ``domain_app``) runs on a fresh
SQLite file, and on PostgreSQL too (``TEST_DATABASE_URL``; skipped locally without it, a
failure in CI) unless it is marked ``database_agnostic``.

Which tests are ``database_agnostic`` (PostgreSQL would not change their outcome): those about
the HTTP surface, the protocol, settings, logs and the console's screens, where the database
only holds what the test set up, and whose database paths other tests run on PostgreSQL (every
stack logs in and places orders). Everything that can differ between the two stays on both:
concurrent requests and jobs (locking, compare-and-set, unique keys under races), what is
stored (types, lengths, NUL, time zones, constraints, migrations), and the state changes of
orders, payments, refunds, shipping and bills. When unsure, leave a test unmarked.
"""

import os

import pytest
import requests
from sqlalchemy import create_engine, text

from sandbox.devkeys import fresh_secrets, generate
from server import create_app
from server.extensions import db
from tests.support import browser, require
from tests.support.production import production_settings
from tests.support.simulator import Merchant, Receiver, start_sandbox
from tests.support.stack import stack_factory


def pytest_collection_modifyitems(config, items):
    """A ``database_agnostic`` test runs on SQLite only (see this module's docstring)."""
    sqlite_only = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url") == "postgresql"
        and item.get_closest_marker("database_agnostic")
    ]
    if sqlite_only:
        config.hook.pytest_deselected(items=sqlite_only)
        items[:] = [item for item in items if item not in sqlite_only]


# --- keys and settings -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory):
    """Key files and identities, generated once per test session."""
    return {**generate(tmp_path_factory.mktemp("keys")), **fresh_secrets()}


@pytest.fixture
def production(dev_keys, tmp_path):
    """Settings a real deployment could start with (keys of its own, not development keys)."""
    return production_settings(dev_keys, tmp_path)


@pytest.fixture(params=["MD5", "HMAC-SHA256"])
def sign_type(request):
    """Both API v2 sign types."""
    return request.param


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_schema_url():
    """TEST_DATABASE_URL, confined to a schema of this test process's own.

    Tests never touch the database's other schemas, and two test runs, or the processes of one
    run (pytest-xdist's workers), can share a database.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield None
        return
    schema = f"wxpay_test_{os.getpid()}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{schema}", engine, schema
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, postgres_schema_url):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    require(postgres_schema_url, "TEST_DATABASE_URL is not set (PostgreSQL)")
    url, engine, schema = postgres_schema_url
    with engine.begin() as connection:  # an empty schema for every test
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    return url


# --- an app without servers, for domain tests (tests/support/factories.py) ------------------


@pytest.fixture
def domain_app(dev_keys, database_url):
    """An app on a fresh database, with no server and no simulator, its app context pushed:
    for domain tests that build their orders with tests/support/factories.py."""
    app = create_app({**dev_keys, "DATABASE_URL": database_url})
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


# --- a simulator and a backend (tests/support/stack.py) --------------------------------------


@pytest.fixture
def make_stack(dev_keys, database_url):
    """``make_stack(**settings)`` starts a simulator and a backend with those settings;
    ``backend_settings={...}`` are settings for the backend alone (a misconfigured merchant);
    ``sandbox_ssl_context`` serves the simulator over HTTPS (``sandbox.tls.server_context``).
    Every /api/ response is checked against the API contract."""
    with stack_factory(dev_keys, database_url) as make:
        yield make


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture
def cert_mode_stack(make_stack):
    """Certificate mode: no WeChat Pay public key anywhere; platform certificates only."""
    return make_stack(
        SANDBOX_KEY_MODE="certificate",
        WECHATPAY_PUBLIC_KEY="",
        WECHATPAY_PUBLIC_KEY_ID="",
        SANDBOX_PUBLIC_KEY_PRIVATE="",
    )


# --- the simulator alone (tests/support/simulator.py) ----------------------------------------


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory):
    """Keys and identities for every simulator in the session (RSA keys are slow to make)."""
    settings = {
        **generate(tmp_path_factory.mktemp("sandbox-keys")),
        **fresh_secrets(),
    }
    settings.update(
        SANDBOX_TIME_SCALE="0.001",
        SANDBOX_KEY_MODE="migrating",
        SANDBOX_NOTIFY_PUBLIC_KEY_RATIO="0",
        SANDBOX_CA_BUNDLE="",
        SANDBOX_LOGIN_RATE_LIMIT="100",
    )
    return settings


@pytest.fixture(scope="session")
def sandbox_server(sandbox_settings):
    server = start_sandbox(sandbox_settings)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The simulator over real HTTP, reset to empty for each test. A migrating merchant:
    answers signed with the key the request names, notifications with the platform
    certificate (SANDBOX_NOTIFY_PUBLIC_KEY_RATIO=0)."""
    requests.post(sandbox_server.url + "/sandbox/reset", timeout=5).raise_for_status()
    return sandbox_server


@pytest.fixture
def merchant(sandbox, sandbox_settings):
    return Merchant(sandbox.url, sandbox_settings)


@pytest.fixture(scope="session")
def receiver_server():
    receiver = Receiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def receiver(receiver_server):
    """A notify_url that records notifications and answers 204 (script it with reset())."""
    receiver_server.reset()
    return receiver_server


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright (tests/support/browser.py), once per module."""
    require(
        browser.sync_playwright is not None, "playwright is not installed (requirements-dev.txt)"
    )
    require(
        os.access(browser.CHROMIUM, os.X_OK),
        f"no browser at {browser.CHROMIUM} (apt-get install chromium)",
    )
    with browser.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=browser.CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def open_page(chromium):
    """``open_page(viewport=DESKTOP, user_agent=None, locale="en-US")``: a page in a fresh
    browser context (its own cookies)."""
    contexts = []

    def open_(viewport=None, user_agent=None, locale="en-US"):
        options = {"viewport": viewport or browser.DESKTOP, "locale": locale}
        if user_agent:
            options["user_agent"] = user_agent
        context = chromium.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
