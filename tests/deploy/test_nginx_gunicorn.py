"""The deployment, tested with the real programs: nginx (rendered by deploy/render_nginx.py from
nginx/wxpay.conf.template) in front of gunicorn (gunicorn.conf.py) in front of the backend,
with the simulator delivering its notification over HTTPS through nginx.

The test makes its own certificate authority and a certificate for ``localhost`` / 127.0.0.1,
and runs nginx as a non-system instance on free high ports. Two stacks:

- ``echo_proxy``: nginx in front of a tiny app that echoes what it received, to check exactly
  what nginx passes on (forwarding headers, the notification's bytes) and what it refuses;
- ``https_stack``: nginx + gunicorn + backend + simulator, for the whole payment loop over HTTPS.
"""

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import requests.adapters

from tests.support import REPO, require, wait_for
from tests.support.live import LiveServer
from tests.support.processes import Process, free_port
from tests.support.tls import DOMAIN, make_tls


def nginx_binary():
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)),
        None,
    )


# Test clients connect from this loopback address, so that nginx, gunicorn and the simulator
# (all on 127.0.0.1) can tell the client's address apart from their own.
CLIENT_ADDRESS = "127.0.0.2"


class FromAddress(requests.adapters.HTTPAdapter):
    """A transport adapter that connects from a chosen local address."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def client_session():
    session = requests.Session()
    for scheme in ("https://", "http://"):
        session.mount(scheme, FromAddress(CLIENT_ADDRESS))
    return session


# --- certificates -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


# --- processes ----------------------------------------------------------------------------


def run_render(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "deploy/render_nginx.py"), *args],
        capture_output=True,
        text=True,
    )


def render_nginx(directory, tls, upstream, https_port, http_port):
    """The documented render command, in standalone mode; returns the nginx.conf path."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = run_render(
        "--domain",
        DOMAIN,
        "--cert",
        tls["cert"],
        "--key",
        tls["key"],
        "--upstream",
        upstream,
        "--listen-https",
        f"127.0.0.1:{https_port}",
        "--listen-http",
        f"127.0.0.1:{http_port}",
        "--acme-root",
        str(directory / "acme"),
        "--standalone",
        str(directory),
    )
    assert rendered.returncode == 0, rendered.stderr
    conf = directory / "nginx.conf"
    conf.write_text(rendered.stdout)
    return conf


class Nginx:
    def __init__(self, directory, tls, upstream):
        self.directory = directory
        self.https_port, self.http_port = free_port(), free_port()
        self.conf = render_nginx(directory, tls, upstream, self.https_port, self.http_port)
        self.https = f"https://{DOMAIN}:{self.https_port}"
        self.http = f"http://{DOMAIN}:{self.http_port}"
        self.process = None

    def start(self):
        self.process = Process(
            "nginx",
            [nginx_binary(), "-p", str(self.directory), "-c", str(self.conf), "-g", "daemon off;"],
            self.directory,
        )
        self.process.wait_for_port(self.https_port)
        self.process.wait_for_port(self.http_port)
        return self

    def stop(self):
        if self.process:
            self.process.stop()

    def access_log(self):
        path = self.directory / "access.log"
        return path.read_text() if path.exists() else ""


# --- rendering ----------------------------------------------------------------------------


def test_render_fills_the_site_for_a_real_server():
    result = run_render(
        "--domain",
        "api.example.com",
        "--cert",
        "/etc/letsencrypt/live/api.example.com/fullchain.pem",
        "--key",
        "/etc/letsencrypt/live/api.example.com/privkey.pem",
        "--upstream",
        "unix:/run/wxpay/gunicorn.sock",
    )
    assert result.returncode == 0, result.stderr
    site = result.stdout
    assert not re.search(r"\{\{\w+\}\}", site), "a placeholder was left unfilled"
    assert "server_name api.example.com;" in site
    assert "ssl_certificate /etc/letsencrypt/live/api.example.com/fullchain.pem;" in site
    assert "server unix:/run/wxpay/gunicorn.sock;" in site
    assert "listen 443 ssl http2;" in site and "listen [::]:443 ssl http2;" in site
    assert "listen 80 default_server;" in site
    # On the standard port the redirect carries no port number.
    assert "return 308 https://api.example.com$request_uri;" in site
    # A site file, not a whole nginx.conf: it goes inside the distribution's http {} block.
    assert "events {" not in site and "pid " not in site


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--domain", "api.example.com;evil", "--cert", "/c.pem", "--key", "/k.pem"], "host name"),
        (["--domain", "api.example.com", "--cert", "c.pem", "--key", "/k.pem"], "absolute"),
        (["--domain", "api.example.com", "--cert", "/c.pem"], "--key"),
    ],
)
def test_render_refuses_bad_arguments(args, complaint):
    result = run_render(*args)
    assert result.returncode == 2
    assert complaint in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "listen",
    [
        [],  # a real server's defaults: 443 and 80, IPv4 and IPv6 (nginx -t binds nothing)
        ["--listen-https", "127.0.0.1:18443", "--listen-http", "127.0.0.1:18080"],
    ],
    ids=["server-defaults", "test-ports"],
)
def test_nginx_accepts_the_rendered_configuration(tmp_path, tls, listen):
    require(nginx_binary(), "nginx is not installed (apt-get install nginx)")
    rendered = run_render(
        "--domain",
        DOMAIN,
        "--cert",
        tls["cert"],
        "--key",
        tls["key"],
        "--upstream",
        "unix:/run/wxpay/gunicorn.sock",
        *listen,
        "--standalone",
        str(tmp_path),
    )
    assert rendered.returncode == 0, rendered.stderr
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered.stdout)
    result = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # nginx 1.25.1+ prefers "http2 on;" and warns about "listen ... http2"; nothing else may warn.
    warnings = [
        line
        for line in result.stderr.splitlines()
        if "[warn]" in line and 'http2" directive is deprecated' not in line
    ]
    assert warnings == []


# --- nginx in front of an echo app: what it passes on, what it refuses --------------------


def echo_app(environ, start_response):
    """Replies with what reached the backend: method, raw path, headers and body."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    reply = json.dumps(
        {
            "method": environ["REQUEST_METHOD"],
            "uri": environ["REQUEST_URI"],
            "remote_addr": environ["REMOTE_ADDR"],
            "headers": headers,
            "body": body.decode("latin-1"),
        }
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(reply)))]
    )
    return [reply]


@pytest.fixture(scope="module")
def echo_proxy(tmp_path_factory, tls):
    require(nginx_binary(), "nginx is not installed (apt-get install nginx)")
    with LiveServer(echo_app) as upstream:
        nginx = Nginx(tmp_path_factory.mktemp("nginx-echo"), tls, f"127.0.0.1:{upstream.port}")
        try:
            yield nginx.start()
        finally:
            nginx.stop()


def client_context(ca, version, ciphers=None, alpn=None):
    """A client that speaks exactly one TLS version."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca)
    context.minimum_version = context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def tls_handshake(port, context, server_hostname=DOMAIN, session=None):
    """Handshake only; returns the finished TLS connection's facts."""
    context.check_hostname = server_hostname is not None
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname, session=session) as conn:
            return {
                "version": conn.version(),
                "cipher": conn.cipher()[0],
                "alpn": conn.selected_alpn_protocol(),
                "session": conn.session,
                "reused": conn.session_reused,
            }


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLSv1.2", "TLSv1.3"]
)
def test_modern_tls_versions_are_accepted(echo_proxy, tls, version):
    done = tls_handshake(echo_proxy.https_port, client_context(tls["ca"], version))
    assert done["version"] == version.name.replace("v1_", "v1.")
    if version == ssl.TLSVersion.TLSv1_2:
        # Forward secrecy and authenticated encryption only.
        cipher = done["cipher"]
        assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLSv1.0", "TLSv1.1"]
)
def test_old_tls_versions_are_refused_by_the_server(echo_proxy, tls, version):
    # Security level 0 lets this client offer TLS 1.0/1.1 at all, so the refusal we see is the
    # server's "protocol version" alert and not our own OpenSSL declining to try.
    context = client_context(tls["ca"], version, ciphers="@SECLEVEL=0:ALL")
    with pytest.raises(ssl.SSLError) as refused:
        tls_handshake(echo_proxy.https_port, context)
    assert refused.value.reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL")


def test_tls12_without_ecdhe_aead_is_refused(echo_proxy, tls):
    # RSA key exchange (no forward secrecy) and CBC (no AEAD) are not on the list.
    context = client_context(
        tls["ca"],
        ssl.TLSVersion.TLSv1_2,
        ciphers="AES128-SHA:AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA",
    )
    with pytest.raises(ssl.SSLError):
        tls_handshake(echo_proxy.https_port, context)


def test_http2_is_offered_and_sessions_resume(echo_proxy, tls):
    context = client_context(tls["ca"], ssl.TLSVersion.TLSv1_2, alpn=["h2", "http/1.1"])
    first = tls_handshake(echo_proxy.https_port, context)
    assert first["alpn"] == "h2"
    second = tls_handshake(echo_proxy.https_port, context, session=first["session"])
    assert second["reused"], "the TLS session cache should let a client resume"


def test_https_response_has_hsts(echo_proxy, tls):
    response = requests.get(echo_proxy.https + "/api/products", verify=tls["ca"], timeout=5)
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert "nginx/" not in response.headers.get("Server", "")


def test_plain_http_redirects_to_https_with_308(echo_proxy):
    for method in ("GET", "POST"):
        response = requests.request(
            method, echo_proxy.http + "/api/orders?page=2", allow_redirects=False, timeout=5
        )
        assert response.status_code == 308
        assert response.headers["Location"] == echo_proxy.https + "/api/orders?page=2"


def test_acme_challenges_are_served_over_plain_http(echo_proxy):
    challenge = echo_proxy.directory / "acme/.well-known/acme-challenge/token123"
    challenge.parent.mkdir(parents=True, exist_ok=True)
    challenge.write_text("token123.thumbprint")
    response = requests.get(echo_proxy.http + "/.well-known/acme-challenge/token123", timeout=5)
    assert response.status_code == 200
    assert response.text == "token123.thumbprint"


def raw_exchange(port, request, server_hostname=None, ca=None):
    """Send raw bytes (over TLS if a hostname is given) and return all bytes answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        conn = raw
        if server_hostname:
            context = ssl.create_default_context(cafile=ca)
            conn = context.wrap_socket(raw, server_hostname=server_hostname)
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_unknown_names_get_no_tls_handshake(echo_proxy, tls):
    for name in ("unknown.example", None):  # another name in SNI; no SNI (the bare IP)
        context = client_context(tls["ca"], ssl.TLSVersion.TLSv1_3)
        with pytest.raises(ssl.SSLError):
            tls_handshake(echo_proxy.https_port, context, server_hostname=name)


def test_unknown_host_headers_get_no_response(echo_proxy, tls):
    request = b"GET /api/products HTTP/1.1\r\nHost: unknown.example\r\nConnection: close\r\n\r\n"
    # Over HTTPS with our name in SNI but another in Host, and over plain HTTP.
    assert raw_exchange(echo_proxy.https_port, request, DOMAIN, tls["ca"]) == b""
    assert raw_exchange(echo_proxy.http_port, request) == b""
    # The same request with our name is answered, so the empty replies above are the 444s.
    known = request.replace(b"unknown.example", DOMAIN.encode())
    assert raw_exchange(echo_proxy.https_port, known, DOMAIN, tls["ca"]).startswith(b"HTTP/1.1 200")


def test_client_forwarding_headers_are_overwritten(echo_proxy, tls):
    with client_session() as client:
        response = client.get(
            echo_proxy.https + "/api/orders",
            verify=tls["ca"],
            timeout=5,
            headers={
                "X-Forwarded-For": "1.2.3.4",
                "X-Forwarded-Proto": "http",
                "X-Forwarded-Host": "evil.example",
            },
        )
    received = response.json()["headers"]
    assert received["X-Forwarded-For"] == CLIENT_ADDRESS  # replaced, not "1.2.3.4, ..."
    assert received["X-Forwarded-Proto"] == "https"
    host = echo_proxy.https.removeprefix("https://")  # with its (test) port, as browsers send
    assert received["X-Forwarded-Host"] == host
    assert received["Host"] == host


def test_oversized_api_body_is_refused_with_413(echo_proxy, tls):
    response = requests.post(
        echo_proxy.https + "/api/orders",
        data=b"x" * (64 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        verify=tls["ca"],
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "BODY_TOO_LARGE"
    assert response.headers["Strict-Transport-Security"]
    just_fits = requests.post(
        echo_proxy.https + "/api/orders", data=b"x" * (64 * 1024), verify=tls["ca"], timeout=5
    )
    assert just_fits.status_code == 200


def test_notification_reaches_the_backend_byte_for_byte(echo_proxy, tls):
    # Bytes a JSON re-encoder or a charset filter would change, and WeChat Pay's headers.
    body = (
        '{"id":"EV-2018022511223320873","resource":{"ciphertext":"Zm9v+/=="},'
        '"summary":"支付成功"}  \r\n\t'
    ).encode()
    signed_headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": "1700000000",
        "Wechatpay-Nonce": "n0nce",
        "Wechatpay-Serial": "PUB_KEY_ID_0114232134912410000000000000",
        "Wechatpay-Signature": "c2lnbmF0dXJl+/==",
    }
    response = requests.post(
        echo_proxy.https + "/api/pay/notify",
        data=body,
        headers=signed_headers,
        verify=tls["ca"],
        timeout=5,
    )
    assert response.status_code == 200
    received = response.json()
    assert received["method"] == "POST" and received["uri"] == "/api/pay/notify"
    assert received["body"].encode("latin-1") == body
    for name, value in signed_headers.items():
        assert received["headers"][name] == value


def test_notification_body_limit_is_larger_but_bounded(echo_proxy, tls):
    url = echo_proxy.https + "/api/pay/notify"
    bigger_than_api = requests.post(url, data=b"x" * (100 * 1024), verify=tls["ca"], timeout=5)
    assert bigger_than_api.status_code == 200
    too_big = requests.post(url, data=b"x" * (128 * 1024 + 1), verify=tls["ca"], timeout=5)
    assert too_big.status_code == 413


def test_notifications_are_not_rate_limited(echo_proxy, tls):
    with requests.Session() as session:
        statuses = {
            session.post(
                echo_proxy.https + "/api/pay/notify", data=b"{}", verify=tls["ca"], timeout=5
            ).status_code
            for _ in range(40)
        }
    assert statuses == {200}


def test_login_is_rate_limited_per_address(echo_proxy, tls):
    # The mini program's and a native app's sign-ins share one budget per address.
    with requests.Session() as session:
        responses = [
            session.post(
                echo_proxy.https + ("/api/login", "/api/app/login")[attempt % 2],
                json={"code": "x"},
                verify=tls["ca"],
                timeout=5,
            )
            for attempt in range(40)
        ]
    statuses = [response.status_code for response in responses]
    assert statuses[:20] == [200] * 20  # the burst passes
    limited = [response for response in responses if response.status_code == 429]
    assert limited, statuses
    assert limited[0].json()["error"]["code"] == "RATE_LIMITED"


def named_app(name):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [name.encode()]

    return app


def test_two_app_servers_share_the_load_and_stand_in_for_each_other(tmp_path, tls):
    """Scale-out (docs/performance.md): --upstream once per app server."""
    require(nginx_binary(), "nginx is not installed (apt-get install nginx)")
    with LiveServer(named_app("a")) as first, LiveServer(named_app("b")) as second:
        nginx = Nginx(tmp_path, tls, f"127.0.0.1:{first.port}")
        rendered = run_render(
            *("--domain", DOMAIN, "--cert", tls["cert"], "--key", tls["key"]),
            *("--upstream", f"127.0.0.1:{first.port}", "--upstream", f"127.0.0.1:{second.port}"),
            *("--listen-https", f"127.0.0.1:{nginx.https_port}"),
            *("--listen-http", f"127.0.0.1:{nginx.http_port}"),
            *("--acme-root", str(tmp_path / "acme"), "--standalone", str(tmp_path)),
        )
        assert rendered.returncode == 0, rendered.stderr
        nginx.conf.write_text(rendered.stdout)
        nginx.start()
        try:
            url = nginx.https + "/api/products"
            with requests.Session() as session:
                served = [session.get(url, verify=tls["ca"], timeout=5).text for _ in range(6)]
                assert sorted(set(served)) == ["a", "b"], served  # taking turns
                second.stop()  # one machine goes away: the other serves everything
                served = [session.get(url, verify=tls["ca"], timeout=5) for _ in range(4)]
            assert [(r.status_code, r.text) for r in served] == [(200, "a")] * 4
        finally:
            nginx.stop()


# --- the whole payment loop over HTTPS: nginx -> gunicorn -> backend <- simulator ---------


def unit_commands(unit):
    """The ExecStart command lines of a unit in deploy/systemd/, split as systemd splits them.

    The tests run these same commands (with the repository's interpreter), so the units cannot
    drift from what is tested.
    """
    text = (REPO / "deploy/systemd" / unit).read_text()
    return [
        shlex.split(line.partition("=")[2])
        for line in text.splitlines()
        if line.startswith("ExecStart=")
    ]


def backend_ready():
    return (REPO / "server/__init__.py").exists() and (REPO / "sandbox/__main__.py").exists()


@pytest.fixture(scope="module")
def https_stack(tmp_path_factory, tls):
    require(nginx_binary(), "nginx is not installed (apt-get install nginx)")
    require(
        importlib.util.find_spec("gunicorn"),
        "gunicorn is not installed (pip install -r requirements.txt)",
    )
    require(backend_ready(), "the backend (server/) or the simulator (sandbox/) is missing")
    from sandbox.devkeys import fresh_secrets, generate

    workdir = tmp_path_factory.mktemp("stack")
    sandbox_port, gunicorn_port = free_port(), free_port()
    nginx = Nginx(workdir / "nginx", tls, f"127.0.0.1:{gunicorn_port}")
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **os.environ,
        **fresh_secrets(),
        **generate(workdir / "keys"),
        "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}",
        "WECHAT_API_BASE": sandbox_url,
        "WECHATPAY_API_BASE": sandbox_url,
        # What WeChat will call: the HTTPS address nginx serves, as in production.
        "WECHATPAY_NOTIFY_URL": f"{nginx.https}/api/pay/notify",
        "TRUSTED_PROXY_COUNT": "1",
        "SANDBOX_CA_BUNDLE": tls["ca"],
        "SANDBOX_TIME_SCALE": "0.001",
        "GUNICORN_BIND": f"127.0.0.1:{gunicorn_port}",
        "GUNICORN_WORKERS": "2",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "FLASK_SKIP_DOTENV": "1",
    }
    env.pop("CI", None)  # nothing below should behave differently in CI
    # gunicorn >= 25 would open a control socket in $HOME/.gunicorn/ (or $XDG_RUNTIME_DIR).
    env["HOME"] = str(workdir / "home")
    env.pop("XDG_RUNTIME_DIR", None)
    # The deployment steps of docs/deployment.md: migrate, seed, then serve.
    for command in (["db", "upgrade"], ["seed"]):
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "server", *command],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"flask {' '.join(command)}:\n{done.stderr[-3000:]}"

    processes = []
    try:
        processes.append(
            Process(
                "sandbox",
                [sys.executable, "-m", "sandbox", "--port", str(sandbox_port)],
                workdir,
                env=env,
                cwd=workdir,
            )
        )
        [gunicorn] = unit_commands("wxpay.service")
        assert Path(gunicorn[0]).name == "gunicorn" and "gunicorn.conf.py" in gunicorn
        arguments = [str(REPO / arg) if arg == "gunicorn.conf.py" else arg for arg in gunicorn[1:]]
        gunicorn = Process(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", *arguments],
            workdir,
            env=env,
            cwd=workdir,
        )
        processes.append(gunicorn)
        processes[0].wait_for_port(sandbox_port)
        processes[1].wait_for_port(gunicorn_port)
        processes.append(nginx.start().process)
        yield {
            "nginx": nginx,
            "sandbox": sandbox_url,
            "ca": tls["ca"],
            "env": env,
            "workdir": workdir,
            "gunicorn": gunicorn,
        }
    finally:
        for process in reversed(processes):
            process.stop()


def test_payment_loop_over_https(https_stack):
    api, sandbox, ca = https_stack["nginx"].https, https_stack["sandbox"], https_stack["ca"]
    # verify= on every call: requests lets REQUESTS_CA_BUNDLE override a Session's verify.
    with client_session() as client:
        code = requests.post(
            f"{sandbox}/sandbox/login-code", json={"openid": "o-deploy-test"}, timeout=5
        ).json()["code"]
        login = client.post(f"{api}/api/login", json={"code": code}, verify=ca, timeout=10)
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"

        product = client.get(f"{api}/api/products", verify=ca, timeout=10).json()["products"][0]
        # A client claiming another address must not change what the backend tells WeChat.
        created = client.post(
            f"{api}/api/orders",
            verify=ca,
            timeout=10,
            json={"items": [{"product_id": product["id"], "quantity": 1}]},
            headers={"X-Forwarded-For": "1.2.3.4"},
        )
        assert created.status_code == 201, created.text
        order = created.json()["order"]
        assert order["status"] == "NOTPAY" and order["total"] == product["price"]
        prepay_id = created.json()["pay_params"]["package"].removeprefix("prepay_id=")

        paid = requests.post(
            f"{sandbox}/sandbox/pay", json={"prepay_id": prepay_id, "action": "pay"}, timeout=10
        )
        assert paid.status_code == 200, paid.text

        # The simulator's notification went over HTTPS (verified against the test CA) through
        # nginx to the backend, which acknowledged it.
        def acknowledged():
            found = requests.get(
                f"{sandbox}/sandbox/notifications",
                timeout=5,
                params={"out_trade_no": order["out_trade_no"]},
            ).json()
            return [n for n in found["notifications"] if n.get("acknowledged")]

        delivery = wait_for(acknowledged)[0]
        assert delivery["url"] == f"{api}/api/pay/notify" and delivery["status"] in (200, 204)
        assert re.search(
            r'"POST /api/pay/notify HTTP/1\.1" 20[04] ', https_stack["nginx"].access_log()
        )

        shown = client.get(f"{api}/api/orders/{order['id']}", verify=ca, timeout=10).json()["order"]
        assert shown["status"] == "PAID" and shown["transaction_id"]

    stored = requests.get(f"{sandbox}/sandbox/orders/{order['out_trade_no']}", timeout=5).json()[
        "order"
    ]
    assert stored["notify_url"] == f"{api}/api/pay/notify"
    # The client's real address (not "1.2.3.4", not nginx's 127.0.0.1) reached WeChat.
    assert (stored.get("scene_info") or {}).get("payer_client_ip") == CLIENT_ADDRESS, stored


def test_periodic_job_commands_run(https_stack):
    commands = unit_commands("wxpay-jobs.service")
    assert [command[1:] for command in commands] == [
        ["--app", "server", "payments", "sync"],
        ["--app", "server", "payments", "close-expired"],
        ["--app", "server", "shipping", "sync"],
    ]
    for command in commands:
        assert Path(command[0]).name == "flask"
        done = subprocess.run(
            [sys.executable, "-m", "flask", *command[1:]],
            env=https_stack["env"],
            cwd=https_stack["workdir"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stderr[-3000:]}"


def test_daily_bill_reconciliation_command_runs(https_stack):
    """wxpay-bills.service's command as systemd runs it: yesterday in Beijing, exit 0."""
    [command] = unit_commands("wxpay-bills.service")
    assert Path(command[0]).name == "flask"
    assert command[1:] == ["--app", "server", "bills", "reconcile"]
    done = subprocess.run(
        [sys.executable, "-m", "flask", *command[1:]],
        env=https_stack["env"],
        cwd=https_stack["workdir"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Reconciliation of" in done.stdout
    timer = (REPO / "deploy/systemd/wxpay-bills.timer").read_text()
    assert "OnCalendar=*-*-* 10:30:00 Asia/Shanghai" in timer
    service = (REPO / "deploy/systemd/wxpay-bills.service").read_text()
    assert "Restart=on-failure" in service and "RestartSec=30min" in service


def test_reload_with_hup_drops_no_request(https_stack):
    """`systemctl reload wxpay` (HUP to gunicorn's master) while requests keep coming."""
    url, ca = https_stack["nginx"].https + "/api/products", https_stack["ca"]
    gunicorn = https_stack["gunicorn"]
    statuses, stop = [], threading.Event()

    def keep_asking():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    statuses.append(session.get(url, verify=ca, timeout=10).status_code)
                except requests.RequestException as exc:
                    statuses.append(type(exc).__name__)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        wait_for(lambda: len(statuses) >= 5)
        booted_before = gunicorn.output(tail=None).count("Booting worker")
        os.kill(gunicorn.popen.pid, signal.SIGHUP)
        # Two new workers (GUNICORN_WORKERS=2) have started and served.
        wait_for(lambda: gunicorn.output(tail=None).count("Booting worker") >= booted_before + 2)
        served = len(statuses)
        wait_for(lambda: len(statuses) >= served + 20)
    finally:
        stop.set()
        asker.join(timeout=15)
    assert "Handling signal: hup" in gunicorn.output(tail=None)
    assert set(statuses) == {200}, statuses


# --- hardening (issue 11, class 9) ---------------------------------------------------------


def test_client_scheme_and_address_headers_are_removed(echo_proxy, tls):
    sent = {
        "X-Forwarded-Ssl": "off",
        "X-Forwarded-Protocol": "http",
        "X-Forwarded-Scheme": "http",
        "X-Forwarded-Port": "80",
        "X-Scheme": "http",
        "X-Real-Ip": "1.2.3.4",
        "Forwarded": "for=1.2.3.4;proto=http",
        "X-Forwarded-Prefix": "/evil",
        "X-Original-Url": "/admin",
    }
    with client_session() as client:
        response = client.get(
            echo_proxy.https + "/api/orders", verify=tls["ca"], timeout=5, headers=sent
        )
    received = response.json()["headers"]
    assert not set(sent) & set(received), received
    assert received["X-Forwarded-Proto"] == "https"


def test_no_server_says_its_nginx_version(echo_proxy, tls):
    redirect = requests.get(echo_proxy.http + "/api/products", allow_redirects=False, timeout=5)
    assert redirect.status_code == 308 and redirect.headers["Server"] == "nginx"
    too_large = requests.post(
        echo_proxy.https + "/api/orders", data=b"x" * (64 * 1024 + 1), verify=tls["ca"], timeout=5
    )
    assert too_large.status_code == 413 and too_large.headers["Server"] == "nginx"
    assert b"nginx/" not in raw_exchange(
        echo_proxy.http_port, b"GET / HTTP/1.0\r\nHost: " + DOMAIN.encode() + b"\r\n\r\n"
    )


def test_the_access_log_keeps_no_query_strings(echo_proxy, tls):
    requests.get(
        echo_proxy.https + "/api/orders/logged?code=SECRET-CODE-123&x=1",
        verify=tls["ca"],
        timeout=5,
    )
    log = wait_for(
        lambda: "/api/orders/logged" in echo_proxy.access_log() and echo_proxy.access_log()
    )
    assert "SECRET-CODE-123" not in log and "?" not in log


def test_gunicorn_trusts_only_x_forwarded_proto(https_stack):
    """A client's X-Forwarded-Ssl/-Protocol that contradicts nginx's X-Forwarded-Proto made
    gunicorn answer an HTML 400; gunicorn now reads X-Forwarded-Proto only."""
    gunicorn = "http://" + https_stack["env"]["GUNICORN_BIND"]
    response = requests.get(
        gunicorn + "/api/products",
        timeout=10,
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Ssl": "off",
            "X-Forwarded-Protocol": "http",
        },
    )
    assert response.status_code == 200, response.text
    nginx = https_stack["nginx"]
    with client_session() as client:
        through = client.get(
            nginx.https + "/api/products",
            verify=https_stack["ca"],
            timeout=10,
            headers={"X-Forwarded-Ssl": "off", "X-Forwarded-Protocol": "http"},
        )
    assert through.status_code == 200, through.text


def test_gunicorn_opens_no_control_socket(https_stack):
    home = Path(https_stack["env"]["HOME"])
    assert (
        requests.get(
            "http://" + https_stack["env"]["GUNICORN_BIND"] + "/api/products", timeout=10
        ).status_code
        == 200
    )
    assert not (home / ".gunicorn").exists()


def unit_settings(unit):
    """{directive: value} of a unit's [Service] section."""
    settings, section = {}, None
    for line in (REPO / "deploy/systemd" / unit).read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings[name] = value
    return settings


HARDENING = (
    "NoNewPrivileges",
    "PrivateTmp",
    "PrivateDevices",
    "ProtectSystem",
    "ProtectHome",
    "ReadWritePaths",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectControlGroups",
    "RestrictSUIDSGID",
    "RestrictNamespaces",
    "UMask",
    "LockPersonality",
    "RestrictAddressFamilies",
)


@pytest.mark.parametrize("unit", ["wxpay.service", "wxpay-jobs.service"])
def test_units_keep_new_files_private_and_are_hardened_alike(unit):
    service, this = unit_settings("wxpay.service"), unit_settings(unit)
    assert this["UMask"] == "0027"  # a SQLite database is not readable by other users
    assert {name: this.get(name) for name in HARDENING} == {
        name: service.get(name) for name in HARDENING
    }


def test_staff_console_over_https(https_stack):
    """The console behind nginx and two gunicorn workers: any worker accepts the session, and
    the audit log has the client's address (not a forged header's)."""
    env, workdir, api, ca = (
        https_stack["env"],
        https_stack["workdir"],
        https_stack["nginx"].https,
        https_stack["ca"],
    )
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "server",
            "staff",
            "create",
            "ops@shop.test",
            "--role",
            "operator",
            "--generate",
        ],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    password = made.stdout.split("store it now): ")[1].strip()
    with client_session() as client:
        login = client.get(f"{api}/console/login", verify=ca, timeout=10)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login.text)[1]
        form = {"email": "ops@shop.test", "password": password, "csrf_token": token}
        # Over HTTPS the token alone is not enough: the form must come from our own pages.
        for referer in ({}, {"Referer": "https://evil.example/console/login"}):
            refused = client.post(
                f"{api}/console/login", verify=ca, timeout=10, data=form, headers=referer
            )
            # The console speaks Chinese by default: its compiled catalogues are there too.
            assert refused.status_code == 400 and "安全令牌" in refused.text
        answer = client.post(
            f"{api}/console/login",
            verify=ca,
            timeout=10,
            data=form,
            allow_redirects=False,
            headers={"X-Forwarded-For": "1.2.3.4", "Referer": f"{api}/console/login"},
        )
        assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        pages = [client.get(f"{api}/console/orders", verify=ca, timeout=10) for _ in range(6)]
        assert {page.status_code for page in pages} == {200}
        assert all("ops@shop.test" in page.text for page in pages)
    import sqlite3

    with sqlite3.connect(workdir / "app.db") as database:
        entries = database.execute(
            "SELECT actor, action, ip FROM audit_log WHERE action = 'login'"
        ).fetchall()
    assert entries == [("ops@shop.test", "login", CLIENT_ADDRESS)]
