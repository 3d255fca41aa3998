"""A slow WeChat never starves the backend, with the real gunicorn (gunicorn.conf.py) and the
simulator served as `python -m sandbox` serves it; the simulator keeps connections alive; the
HTTP client to WeChat verifies TLS with one context per process."""

import http.client
import os
import ssl
import sys
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from server import create_app
from server.domain.catalogue import seed_catalogue
from server.extensions import db
from server.wechatpay.core.http import new_http_session
from tests.support import REPO
from tests.support.notifications import signed_notification, transaction_for
from tests.support.processes import Process, free_port
from tests.support.tls import make_tls


@pytest.fixture
def gunicorn_stack(dev_keys, database_url, tmp_path):
    """The simulator (`python -m sandbox`) and the backend under gunicorn, as deployed."""
    sandbox_port, backend_port = free_port(), free_port()
    sandbox_url, backend_url = (
        f"http://127.0.0.1:{sandbox_port}",
        f"http://127.0.0.1:{backend_port}",
    )
    settings = {
        **dev_keys,
        "DATABASE_URL": database_url,
        "WECHAT_API_BASE": sandbox_url,
        "WECHATPAY_API_BASE": sandbox_url,
        "WECHATPAY_NOTIFY_URL": f"{backend_url}/api/pay/notify",
        "SANDBOX_TIME_SCALE": "0.001",
    }
    app = create_app(settings)
    with app.app_context():
        db.create_all()
        seed_catalogue()
        db.engine.dispose()
    env = {
        **os.environ,
        **settings,
        "PYTHONPATH": str(REPO),
        "FLASK_SKIP_DOTENV": "1",
        "GUNICORN_BIND": f"127.0.0.1:{backend_port}",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    processes = [
        Process(
            "sandbox",
            [sys.executable, "-m", "sandbox", "--port", str(sandbox_port), "--no-access-log"],
            tmp_path,
            env=env,
            cwd=tmp_path,
        ),
        Process(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(REPO / "gunicorn.conf.py"),
                "server:create_app()",
            ],
            tmp_path,
            env=env,
            cwd=tmp_path,
        ),
    ]
    try:
        processes[0].wait_for_port(sandbox_port)
        processes[1].wait_for_port(backend_port)
        yield {
            "backend": backend_url,
            "sandbox": sandbox_url,
            "settings": settings,
            "gunicorn": processes[1],
        }
    finally:
        for process in processes:
            process.stop()


def login(stack, openid):
    code = requests.post(f"{stack['sandbox']}/sandbox/login-code", json={"openid": openid}).json()[
        "code"
    ]
    token = requests.post(f"{stack['backend']}/api/login", json={"code": code}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_notifications_are_acknowledged_while_users_poll_and_wechat_hangs(gunicorn_stack):
    stack = gunicorn_stack
    users = []
    for n in range(12):
        auth = login(stack, f"o-poller-{n}")
        created = requests.post(
            f"{stack['backend']}/api/orders",
            headers=auth,
            json={"items": [{"product_id": 1, "quantity": 1}]},
        )
        assert created.status_code == 201, created.text
        users.append((auth, created.json()["order"]))
    # WeChat now takes 10 s to answer every order query.
    armed = requests.post(
        f"{stack['sandbox']}/sandbox/faults",
        json={
            "kind": "api",
            "path": "/v3/pay/transactions/out-trade-no/",
            "method": "GET",
            "delay": 10,
            "times": 1000,
        },
    )
    assert armed.status_code == 201, armed.text

    stop = threading.Event()
    polls = []

    def poll(auth, order):
        while not stop.is_set():
            started = time.monotonic()
            response = requests.get(
                f"{stack['backend']}/api/orders/{order['id']}", headers=auth, timeout=30
            )
            polls.append((response.status_code, time.monotonic() - started))
            time.sleep(0.2)

    pollers = [threading.Thread(target=poll, args=user) for user in users]
    for thread in pollers:
        thread.start()
    try:
        time.sleep(1)  # every poller is now waiting on (or just gave up on) WeChat
        acknowledged = []
        for n, (_auth, order) in enumerate(users[:6]):
            headers, body = signed_notification(
                stack["settings"],
                transaction_for(stack["settings"], order, transaction_id=f"42{n:026d}"),
            )
            started = time.monotonic()
            response = requests.post(
                f"{stack['backend']}/api/pay/notify", headers=headers, data=body, timeout=30
            )
            acknowledged.append((response.status_code, time.monotonic() - started))
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in pollers:
            thread.join()
    assert [status for status, _ in acknowledged] == [204] * 6, stack["gunicorn"].output()
    assert max(seconds for _, seconds in acknowledged) < 3, acknowledged
    # Each read answered from the database, WeChat's query given its short budget (2 s) at
    # most, and at worst queued behind one other such read.
    assert {status for status, _ in polls} == {200}
    assert max(seconds for _, seconds in polls) < 5, sorted(polls)[-3:]
    paid = [
        requests.get(f"{stack['backend']}/api/orders/{order['id']}", headers=auth).json()["order"][
            "status"
        ]
        for auth, order in users[:6]
    ]
    assert paid == ["PAID"] * 6


@pytest.fixture
def sandbox_process(dev_keys, tmp_path):
    """The simulator alone, served as `python -m sandbox` serves it (no backend, no database:
    what is tested is the simulator's own server)."""
    port = free_port()
    env = {**os.environ, **dev_keys, "PYTHONPATH": str(REPO), "FLASK_SKIP_DOTENV": "1"}
    process = Process(
        "sandbox",
        [sys.executable, "-m", "sandbox", "--port", str(port), "--no-access-log"],
        tmp_path,
        env=env,
        cwd=tmp_path,
    )
    try:
        process.wait_for_port(port)
        yield port
    finally:
        process.stop()


def test_the_simulator_keeps_connections_alive(sandbox_process):
    connection = http.client.HTTPConnection("127.0.0.1", sandbox_process, timeout=5)
    addresses = set()
    for _ in range(3):
        connection.request("GET", "/sandbox/health")
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection") != "close"
        addresses.add(connection.sock.getsockname())
    assert len(addresses) == 1  # three requests, one connection
    connection.close()


def test_the_simulator_answers_delayed_requests_together_not_one_after_another(sandbox_process):
    # 256 requests wait on a 2 s "delay" fault at once (bench/run.py's latency figure has 256
    # clients): served together they all answer in about 2 s; a simulator that could hold
    # only 64 of them at a time would need 8 s. The bound is generous for a busy machine.
    delay, clients = 2, 256
    armed = requests.post(
        f"http://127.0.0.1:{sandbox_process}/sandbox/faults",
        json={"kind": "api", "path": "/v3/bench/", "delay": delay, "times": clients},
    )
    assert armed.status_code == 201, armed.text
    statuses = []
    ready = threading.Barrier(clients + 1)

    def call(n):
        connection = http.client.HTTPConnection("127.0.0.1", sandbox_process, timeout=60)
        ready.wait()
        connection.request("GET", f"/v3/bench/{n}")
        statuses.append(connection.getresponse().status)  # 404 after the delay: no such API
        connection.close()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert len(statuses) == clients and set(statuses) == {404}, set(statuses)
    assert delay <= elapsed < 3 * delay, elapsed
    remaining = requests.get(f"http://127.0.0.1:{sandbox_process}/sandbox/faults").json()
    assert remaining == {"faults": []}  # every request took the fault


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on localhost with a certificate from a test CA that closes every
    connection, so that each request makes the client reconnect."""
    tls = make_tls(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls["cert"], tls["key"])

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_port}/", tls["ca"]
    server.shutdown()
    thread.join(timeout=5)


def test_reconnects_reuse_one_tls_context(tls_server, monkeypatch):
    url, ca = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)  # where requests looks for a CA bundle
    sessions = [new_http_session(), new_http_session(retries=False)]
    for session in sessions:
        for _ in range(3):  # the server closes each connection: three TLS handshakes
            assert session.get(url, timeout=5).text == "ok"
    contexts = {
        id(session.get_adapter(url).poolmanager.connection_pool_kw["ssl_context"])
        for session in sessions
    }
    assert len(contexts) == 1  # one context for every session and connection of the process
    pool = sessions[0].get_adapter(url).poolmanager.connection_from_url(url)
    assert pool.ca_certs is None  # not handed to each new connection to load again
    # The shared context still verifies: a server the bundle does not vouch for is refused.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    with pytest.raises(requests.exceptions.SSLError):
        new_http_session().get(url, timeout=5)
