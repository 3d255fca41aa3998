"""The simulator's access log is a contract (docs/simulator.md#its-access-log): independent
checks count the calls a backend made to "WeChat" from it. ``python -m sandbox`` runs as a
process of its own here, and its standard output is parsed with the documented pattern."""

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from sandbox import devkeys
from tests.support import wait_for
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
# The documented line: address, "METHOD path" (never the query string), status, bytes or -.
LINE = re.compile(
    r'^(?P<addr>\S+) "(?P<method>[A-Z]+) (?P<path>[^ ]*)" (?P<status>\d{3}) (?P<bytes>\d+|-)$'
)


def run_sandbox(tmp_path, *flags):
    """Start ``python -m sandbox`` with dev settings; (process, its stdout file, base URL)."""
    values = devkeys.ensure_env(tmp_path / "keys", tmp_path / ".env")
    port = free_port()
    out = tmp_path / "stdout.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), *flags],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
        stdout=out.open("wb"),
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{base}/sandbox/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(up, timeout=30, interval=0.1)
    return process, out, base, values


def stop(process):
    process.terminate()
    process.wait(timeout=15)


def test_one_line_per_request_in_the_documented_format(tmp_path):
    process, out, base, values = run_sandbox(tmp_path)
    try:
        code = requests.post(f"{base}/sandbox/login-code", json={}, timeout=5).json()["code"]
        secret = values["WECHAT_SECRET"]
        login = requests.get(
            f"{base}/sns/jscode2session",
            params={
                "appid": values["WECHAT_APPID"],
                "secret": secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
            timeout=5,
        )
        assert login.status_code == 200
        unsigned = requests.get(f"{base}/v3/pay/transactions/out-trade-no/NO1?mchid=1", timeout=5)
        assert unsigned.status_code == 401
        wait_for(lambda: len(out.read_text().splitlines()) >= 4, timeout=10, interval=0.05)
    finally:
        stop(process)
    text = out.read_text()
    lines = [LINE.fullmatch(line) for line in text.splitlines()]
    assert all(lines), text  # nothing else on standard output
    seen = [(m["method"], m["path"], int(m["status"])) for m in lines]
    assert seen == [
        ("GET", "/sandbox/health", 200),  # the start-up check above
        ("POST", "/sandbox/login-code", 200),
        ("GET", "/sns/jscode2session", 200),
        ("GET", "/v3/pay/transactions/out-trade-no/NO1", 401),
    ]
    assert all(m["addr"] == "127.0.0.1" for m in lines)
    assert int(lines[2]["bytes"]) == len(login.content)
    # The query string is never logged: jscode2session's carries the app secret.
    assert secret not in text and "?" not in text


def test_no_access_log_keeps_standard_output_empty(tmp_path):
    process, out, base, _ = run_sandbox(tmp_path, "--no-access-log")
    try:
        assert requests.get(f"{base}/sandbox/health", timeout=5).status_code == 200
    finally:
        stop(process)
    assert out.read_text() == ""
