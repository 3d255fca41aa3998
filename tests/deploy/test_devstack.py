"""`make dev`'s script brings the whole thing up from nothing, and the README's demo pays."""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import demo  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def devstack(tmp_path_factory):
    """One dev stack, started from nothing, for the module's tests (it takes seconds to start:
    keys, a database, a staff account; the tests only read what it printed or add orders)."""
    tmp_path = tmp_path_factory.mktemp("devstack")
    backend_port, sandbox_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "devstack.py"),
            "--backend-port",
            str(backend_port),
            "--sandbox-port",
            str(sandbox_port),
            "--env-file",
            str(tmp_path / ".env"),
            "--keys-dir",
            str(tmp_path / "keys"),
            "--database-url",
            f"sqlite:///{tmp_path / 'app.db'}",
            "--time-scale",
            "0.001",
        ],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "terminal.log").open("w"),
        text=True,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("READY"), (line, (tmp_path / "terminal.log").read_text())
        console = process.stdout.readline()
        yield (
            f"http://127.0.0.1:{backend_port}",
            f"http://127.0.0.1:{sandbox_port}",
            tmp_path,
            console,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_devstack_from_nothing_then_the_demo_pays(devstack):
    backend, sandbox, workdir, _ = devstack
    env = (workdir / ".env").read_text()
    for name in ("WECHATPAY_PRIVATE_KEY", "WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY_ID"):
        assert f"{name}=" in env
    assert (workdir / "keys" / "DEVELOPMENT-KEYS-NOT-FOR-PRODUCTION").exists()
    # A merchant created today, and a backend set up for it.
    assert "SANDBOX_KEY_MODE=public-key" in env
    assert requests.get(f"{sandbox}/sandbox/health", timeout=5).json()["key_mode"] == "public-key"
    order = demo.run(backend, sandbox)
    assert order["status"] == "PAID"


def test_the_terminal_never_shows_the_app_secret(devstack):
    """Both servers log to the terminal; jscode2session's query string carries the secret."""
    backend, sandbox, workdir, _ = devstack
    demo.run(backend, sandbox)
    secret = next(
        line.split("=", 1)[1]
        for line in (workdir / ".env").read_text().splitlines()
        if line.startswith("WECHAT_SECRET=")
    )
    terminal = (workdir / "terminal.log").read_text()
    assert "/sns/jscode2session" in terminal  # the access log is there, without its query
    assert secret not in terminal and "secret=" not in terminal


def test_devstack_prints_how_to_log_in_to_the_console(devstack):
    backend, _, _, console = devstack
    match = re.fullmatch(r"Staff console: (\S+)  log in as (\S+) with password (\S+) .*\n", console)
    assert match, console
    url, email, password = match.groups()
    assert url == f"{backend}/console/"
    browser = requests.Session()
    login = browser.get(f"{url}login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login.text).group(1)
    answer = browser.post(
        f"{url}login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
    assert "<h1>概览</h1>" in browser.get(url).text  # the console in Chinese, its default
