"""`make dev`'s script brings the whole thing up from nothing, and the README's demo pays."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support import require

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


def readme_try_it():
    """The README's curl walk-through, as a reader copies it into a terminal."""
    match = re.search(
        r"```sh\n(B=http://127\.0\.0\.1:8000 S=http://127\.0\.0\.1:8001\n.*?)```",
        (ROOT / "README.md").read_text(),
        re.S,
    )
    assert match, "the README's try-it block (starting B=... S=...) is gone"
    return match.group(1)


def test_the_readme_try_it_waits_for_the_notification(devstack):
    """Step 4 used to read the order once, right after the cashier: about one run in four
    printed NOTPAY, glued to the cashier's answer. Here WeChat's notification comes 1.5 s late
    and the query the first read makes fails, so a walk-through that reads the order before the
    notification arrived prints NOTPAY every time."""
    backend, sandbox, _, _ = devstack
    for tool in ("bash", "curl", "python3"):
        require(shutil.which(tool), f"the README's try-it needs {tool}")
    block = readme_try_it().replace(
        "B=http://127.0.0.1:8000 S=http://127.0.0.1:8001", f"B={backend} S={sandbox}", 1
    )
    late = [
        {"kind": "notify", "action": "delay", "seconds": 1.5},
        {
            "kind": "api",
            "method": "GET",
            "path": "/v3/pay/transactions/out-trade-no/",
            "status": 500,
            "code": "SYSTEM_ERROR",
            "message": "busy",
        },
    ]
    requests.post(f"{sandbox}/sandbox/faults", json={"faults": late}, timeout=5).raise_for_status()
    try:
        result = subprocess.run(["bash", "-c", block], capture_output=True, text=True, timeout=60)
    finally:
        requests.delete(f"{sandbox}/sandbox/faults", timeout=5)
    assert result.returncode == 0, result
    # Each step's output on a line of its own: the catalogue, the order, the cashier, the status.
    assert result.stdout.endswith("\n"), result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 4, lines
    products, created, cashier = (json.loads(line) for line in lines[:3])
    assert products["products"] and created["order"]["status"] == "NOTPAY"
    assert cashier["trade_state"] == "SUCCESS"
    assert lines[3] == "PAID"


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


def run_devstack(tmp_path, backend_port, sandbox_port):
    return subprocess.run(
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
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("role", ["backend", "simulator"])
def test_a_taken_port_is_refused_at_once(tmp_path, role):
    """Another server on the port (a second `make dev`, say): without the check, the health
    check reached it and printed READY for a stack that then died."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        ports = (taken, free_port()) if role == "backend" else (free_port(), taken)
        result = run_devstack(tmp_path, *ports)
    assert result.returncode == 1, result
    assert "READY" not in result.stdout
    assert f"port {taken} for the {role} on 127.0.0.1 is taken" in result.stderr
    assert "make dev BACKEND_PORT=" in result.stderr and "SANDBOX_PORT=" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".env").exists()  # refused before anything was written


def test_make_dev_takes_the_ports_and_fails_when_one_is_taken(tmp_path):
    if not shutil.which("make"):
        pytest.skip("no make on this machine")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        result = subprocess.run(
            # -o: never (re)install the virtualenv here; this test is about the ports.
            ["make", "-o", ".venv/.installed", "dev", f"BACKEND_PORT={taken}", "SANDBOX_PORT=1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0 and "READY" not in result.stdout
    assert f"port {taken} for the backend" in result.stderr
    assert f"--backend-port {taken} --sandbox-port 1" in result.stdout
