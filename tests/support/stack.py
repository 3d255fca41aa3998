"""A running simulator and backend wired to each other over real HTTP (``make_stack``)."""

import contextlib
from dataclasses import dataclass

import requests
from sqlalchemy import text

import sandbox
from server import create_app
from server.domain.catalogue import seed_catalogue
from server.extensions import db
from tests.support.contract import ContractChecker
from tests.support.live import LiveServer


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


@contextlib.contextmanager
def stack_factory(dev_keys, database_url):
    """The ``make_stack`` fixture's work: yields ``make(**settings)``, which starts a simulator
    and a backend with those settings; on leaving, stops them all and fails when a response
    broke the API contract."""
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
                "WECHAT_OPEN_BASE": sim.url,  # web authorisation (open.weixin.qq.com)
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
