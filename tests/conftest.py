"""Shared fixtures: real simulator + real backend over HTTP, on SQLite and PostgreSQL.

``stack`` is the default deployment (API v3, WeChat Pay public key mode); ``make_stack(...)``
builds others (certificate mode, v2, ...). Every test that uses a database (``database_url``,
so every stack) runs on a fresh SQLite file, and on PostgreSQL too (``TEST_DATABASE_URL``;
skipped locally without it, a failure in CI) unless it is marked ``database_agnostic``.

Which tests are ``database_agnostic`` (PostgreSQL would not change their outcome): those about
the HTTP surface, the protocol, settings, logs and the console's screens, where the database
only holds what the test set up, and whose database paths other tests run on PostgreSQL (every
stack logs in and places orders). Everything that can differ between the two stays on both:
concurrent requests and jobs (locking, compare-and-set, unique keys under races), what is
stored (types, lengths, NUL, time zones, constraints, migrations), and the state changes of
orders, payments, refunds, shipping and bills. When unsure, leave a test unmarked.
"""

import os
import time
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import create_engine, text

import sandbox
from sandbox.devkeys import fresh_secrets, generate
from server import create_app
from server.domain.catalogue import seed_catalogue
from server.extensions import db
from tests.contract import ContractChecker
from tests.live import LiveServer

IN_CI = os.environ.get("CI") == "true"
# The simulator's own fixtures (sandbox, merchant, receiver...).
pytest_plugins = ["tests.sandbox_fixtures"]


def require(condition, reason):
    """Skip a test that needs a missing component; in CI that is a failure instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory):
    """Key files and identities, generated once per test session."""
    return {**generate(tmp_path_factory.mktemp("keys")), **fresh_secrets()}


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


@dataclass
class Stack:
    """A running simulator and backend wired to each other."""

    app: object
    backend: str
    sandbox: str
    settings: dict

    def mint_code(self, openid=None):
        body = {"openid": openid} if openid else {}
        return requests.post(f"{self.sandbox}/sandbox/login-code", json=body).json()["code"]

    def login(self, openid=None):
        response = requests.post(f"{self.backend}/api/login", json={"code": self.mint_code(openid)})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def products(self):
        return requests.get(f"{self.backend}/api/products").json()["products"]

    def create_order(self, auth, items=None):
        items = items or [{"product_id": self.products()[0]["id"], "quantity": 1}]
        return requests.post(f"{self.backend}/api/orders", json={"items": items}, headers=auth)

    def order(self, auth, order_id):
        return requests.get(f"{self.backend}/api/orders/{order_id}", headers=auth)

    def cashier(self, pay_params, action="pay"):
        """The user at WeChat's cashier with the backend's pay_params (paySign checked)."""
        return requests.post(
            f"{self.sandbox}/sandbox/pay", json={"pay_params": pay_params, "action": action}
        )

    def control(self, endpoint, **body):
        response = requests.post(f"{self.sandbox}/sandbox/{endpoint}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def notifications(self):
        return requests.get(f"{self.sandbox}/sandbox/notifications").json()["notifications"]

    def cli(self, *args):
        """Run a ``flask --app server`` command against this backend; its output."""
        # The flask command pushes an app context for every command; the test runner doesn't.
        with self.app.app_context():
            result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    def query(self, sql, **params):
        with self.app.app_context():
            return db.session.execute(text(sql), params).all()


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll until ``predicate()`` is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


@pytest.fixture
def make_stack(dev_keys, database_url):
    """``make_stack(**settings)`` starts a simulator and a backend with those settings;
    ``backend_settings={...}`` are settings for the backend alone (a misconfigured merchant);
    ``sandbox_ssl_context`` serves the simulator over HTTPS (``sandbox.tls.server_context``)."""
    servers = []
    checkers = []

    def make(backend_settings=None, sandbox_ssl_context=None, **overrides):
        backend = LiveServer()
        settings = {
            **dev_keys,
            "SANDBOX_TIME_SCALE": "0.001",
            "SANDBOX_PUSH_URL": f"{backend.url}/api/wechat/push",
            **overrides,
        }
        sim = LiveServer(sandbox.create_app(settings), ssl_context=sandbox_ssl_context).start()
        servers.append(sim)
        settings.update(
            {
                "DATABASE_URL": database_url,
                "WECHAT_API_BASE": sim.url,
                "WECHATPAY_API_BASE": sim.url,
                "WECHATPAY_NOTIFY_URL": f"{backend.url}/api/pay/notify",
                "WECHAT_HTTP_TIMEOUT_SECONDS": "2",
                **overrides,
                **(backend_settings or {}),
            }
        )
        app = create_app(settings)
        checkers.append(ContractChecker(app))  # every response vs server/api/openapi.json
        with app.app_context():
            db.create_all()
            seed_catalogue()
        backend.app = app
        servers.append(backend.start())
        return Stack(app=app, backend=backend.url, sandbox=sim.url, settings=settings)

    yield make
    for server in reversed(servers):
        server.stop()
    problems = [problem for checker in checkers for problem in checker.problems]
    assert not problems, "responses that break the API contract:\n" + "\n".join(problems)
    for server in servers:
        app = server.app
        if app is not None and "sqlalchemy" in app.extensions:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(params=["MD5", "HMAC-SHA256"])
def sign_type(request):
    """Both API v2 sign types."""
    return request.param


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
