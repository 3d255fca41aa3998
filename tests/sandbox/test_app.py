"""The simulator as a program: settings from .env, ``python -m sandbox``, HTTPS notify URLs."""

import datetime
import ipaddress
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from werkzeug.serving import make_server

import sandbox
from sandbox import devkeys
from tests.support import wait_for
from tests.support.simulator import Merchant, cashier, deliveries, start_sandbox

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_m_sandbox_serves_settings_from_dotenv(tmp_path):
    values = devkeys.ensure_env(tmp_path / "keys", tmp_path / ".env")
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def health():
            try:
                return requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1).json()
            except requests.ConnectionError:
                return None

        answer = wait_for(health, timeout=15, interval=0.1)
        assert answer["mchid"] == values["WECHATPAY_MCHID"]
        assert answer["appid"] == values["WECHAT_APPID"] and answer["public_key_mode"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_dotenv_is_read_only_without_a_settings_dict(tmp_path, monkeypatch):
    values = devkeys.ensure_env(tmp_path / "keys", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("WECHAT", "SANDBOX_")):
            monkeypatch.delenv(name)
    app = sandbox.create_app()
    assert app.test_client().get("/sandbox/health").json["mchid"] == values["WECHATPAY_MCHID"]
    # Tests pass complete settings; a developer's .env must not fill the gaps.
    with pytest.raises(ValueError, match="sandbox settings missing"):
        sandbox.create_app({"WECHATPAY_MCHID": "1900000042"})


def test_missing_settings_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in list(os.environ):
        if name.startswith(("WECHAT", "SANDBOX_")):
            monkeypatch.delenv(name)
    with pytest.raises(ValueError, match="WECHATPAY_APIV3_KEY"):
        sandbox.create_app(
            {"WECHAT_APPID": "wx1", "WECHAT_SECRET": "s", "WECHATPAY_MCHID": "1900000001"}
        )


# --- HTTPS notify URLs ---------------------------------------------------------------------


def localhost_certificate(directory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls_cert.pem", directory / "tls_key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def https_receiver(tmp_path):
    cert, key = localhost_certificate(tmp_path)
    received = []
    app = Flask(__name__)

    @app.post("/notify")
    def notify():
        received.append(True)
        return "", 204

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(cert, key))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}/notify", cert, received
    server.shutdown()
    thread.join(timeout=5)


def test_https_notify_url_trusted_through_ca_bundle(sandbox_settings, https_receiver):
    url, ca_bundle, received = https_receiver
    trusting = start_sandbox(sandbox_settings, SANDBOX_CA_BUNDLE=ca_bundle)
    distrusting = start_sandbox(sandbox_settings, SANDBOX_TIME_SCALE="1")
    try:
        for server, out_trade_no in ((trusting, "HTTPSOK001"), (distrusting, "HTTPSBAD01")):
            merchant = Merchant(server.url, sandbox_settings)
            prepay_id = merchant.place(out_trade_no, url).json()["prepay_id"]
            assert cashier(server, prepay_id).status_code == 200
        (ok,) = wait_for(lambda: deliveries(trusting))
        assert ok["status"] == 204 and ok["acknowledged"]
        (refused,) = wait_for(lambda: deliveries(distrusting))
        assert refused["status"] is None and refused["error"] == "SSLError"
        assert len(received) == 1
    finally:
        requests.post(distrusting.url + "/sandbox/reset", timeout=5)  # stop its retries
        trusting.stop()
        distrusting.stop()
