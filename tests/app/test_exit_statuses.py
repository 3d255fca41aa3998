"""The CLI's exit statuses, a contract scripts, timers and independent checks rely on
(docs/operations.md): 0 done, 1 refused (``Error: CODE: message`` on stderr), 2 a usage error,
75 (EX_TEMPFAIL) not done yet, try again later. Each is provoked the way it happens, by running
the real ``flask --app server`` command in a process of its own against a running simulator
(unreachable: a port nobody listens on)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server.domain.bills import beijing_today
from tests.support.orders import expire, paid_order
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
REFUNDS_PATH = "/v3/refund/domestic/refunds"
REFUSED = re.compile(r"^Error: [A-Z0-9_]+: .+$", re.MULTILINE)  # the one form of a refusal


def flask(stack, tmp_path, *args, **settings):
    """Run ``flask --app server ARGS`` with the stack's settings (and ``settings`` over them),
    in a directory without a .env; (exit status, stdout, stderr)."""
    env = {
        **os.environ,
        **{k: str(v) for k, v in {**stack.settings, **settings}.items() if v is not None},
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "server", *map(str, args)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def unreachable():
    """Settings that point every call to WeChat at a port nobody listens on."""
    dead = f"http://127.0.0.1:{free_port()}"
    return {"WECHATPAY_API_BASE": dead, "WECHAT_API_BASE": dead}


def refund_row(stack):
    return stack.query("SELECT status, error_code FROM refunds ORDER BY id DESC")[0]


def test_a_refund_done_refused_by_the_shop_refused_by_wechat_or_unanswered(stack, tmp_path):
    _, order = paid_order(stack)
    code, out, err = flask(stack, tmp_path, "refund", order["id"], "--amount", 100, "--reason", "x")
    assert code == 0 and " 100 fen " in out and not REFUSED.search(err)

    # The shop's rules refuse: more than is left. Nothing is written.
    code, out, err = flask(
        stack, tmp_path, "refund", order["id"], "--amount", 10**6, "--reason", "x"
    )
    assert code == 1 and REFUSED.search(err) and "REFUND" in err
    assert stack.query("SELECT count(*) FROM refunds") == [(1,)]

    # WeChat refuses: the refund is FAILED, and the status says refused.
    stack.control(
        "faults", kind="api", path=REFUNDS_PATH, method="POST", status=403, code="NOT_ENOUGH"
    )
    code, out, err = flask(stack, tmp_path, "refund", order["id"], "--amount", 1, "--reason", "x")
    assert code == 1 and "Error: NOT_ENOUGH: " in err and "FAILED" in out
    assert refund_row(stack) == ("FAILED", "NOT_ENOUGH")

    # WeChat does not answer: recorded PENDING, and 75 says "not done yet, try later".
    code, out, err = flask(
        stack, tmp_path, "refund", order["id"], "--amount", 1, "--reason", "x", **unreachable()
    )
    assert code == 75 and REFUSED.search(err) and "PENDING" in out
    assert refund_row(stack)[0] == "PENDING"
    # The job that sends it again cannot reach WeChat either: 75; then it can: 0.
    code, out, _ = flask(stack, tmp_path, "refunds", "sync", "--older-than", 0, **unreachable())
    assert code == 75 and "'pending': 1" in out, out
    code, out, _ = flask(stack, tmp_path, "refunds", "sync", "--older-than", 0)
    assert code == 0, out
    assert refund_row(stack)[0] in ("SUCCESS", "PROCESSING")


def test_the_periodic_payment_jobs(stack, tmp_path):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    code, out, _ = flask(stack, tmp_path, "payments", "sync", "--older-than", 0, **unreachable())
    assert code == 75 and "'failed': 1" in out
    code, out, _ = flask(stack, tmp_path, "payments", "sync", "--older-than", 0)
    assert code == 0 and "'unchanged': 1" in out
    expire(stack, order["id"])
    code, out, _ = flask(stack, tmp_path, "payments", "close-expired", **unreachable())
    assert code == 75 and "closed 0 of 1" in out
    code, out, _ = flask(stack, tmp_path, "payments", "close-expired")
    assert code == 0 and "closed 1 of 1" in out


def test_bills_reconcile_and_resolve(stack, tmp_path):
    paid_order(stack)
    today = beijing_today().isoformat()
    code, out, _ = flask(stack, tmp_path, "bills", "reconcile", "--date", today, **unreachable())
    assert code == 75 and "unreachable" in out
    stack.control(
        "faults", kind="api", path="/v3/bill/tradebill", status=400, code="INVALID_REQUEST"
    )
    code, out, _ = flask(stack, tmp_path, "bills", "reconcile", "--date", today)
    assert code == 1 and "refused, nothing kept: INVALID_REQUEST" in out
    code, out, _ = flask(stack, tmp_path, "bills", "reconcile", "--date", today)
    assert code == 0 and "CLEAN" in out
    code, _, err = flask(stack, tmp_path, "bills", "resolve", 999, "--note", "x")
    assert code == 1 and REFUSED.search(err)


def test_shipping_upload(stack, tmp_path):
    _, order = paid_order(stack)
    ship = ("shipping", "ship", order["id"], "--logistics", "virtual")
    code, out, err = flask(stack, tmp_path, *ship, **unreachable())
    assert code == 75 and "PENDING" in out and REFUSED.search(err)
    code, out, _ = flask(stack, tmp_path, "shipping", "sync", **unreachable())
    assert code == 75, out
    code, out, _ = flask(stack, tmp_path, "shipping", "sync")
    assert code == 0 and "SHIPPED" in out


def test_an_abnormal_refund_that_does_not_exist_is_refused(stack, tmp_path):
    code, _, err = flask(
        stack, tmp_path, "refunds", "apply-abnormal", "NO-SUCH", "--type", "MERCHANT_BANK_CARD"
    )
    assert code == 1 and "Error: REFUND_NOT_FOUND: no refund NO-SUCH" in err


@pytest.mark.database_agnostic
@pytest.mark.parametrize(
    "args",
    [
        ("refund", 1, "--reason", "x"),  # no --amount
        ("bills", "reconcile", "--date", "yesterday-ish"),
        ("refunds", "apply-abnormal", "R1", "--type", "CASH"),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_2(stack, tmp_path, args):
    code, out, err = flask(stack, tmp_path, *args)
    assert code == 2 and "Usage:" in err and out == ""
    assert stack.query("SELECT count(*) FROM refunds") == [(0,)]
