"""The periodic jobs on several machines at once, and against a slow WeChat: one run of a job
at a time (the others skip), so every order is queried or closed once; a run stops at its
deadline."""

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.orders import expire

REPO = Path(__file__).resolve().parents[2]
ORDER_CALLS = "/v3/pay/transactions/out-trade-no/"


def count_calls(stack, method):
    """Arm a fault that delays every query (GET) or close (POST) by 0.5 s, so that concurrent
    runs overlap, and counts them: each call WeChat receives uses one of its 100 times up."""
    stack.control("faults", kind="api", path=ORDER_CALLS, method=method, delay=0.5, times=100)
    return lambda: (
        100
        - sum(
            f["times"]
            for f in requests.get(f"{stack.sandbox}/sandbox/faults").json()["faults"]
            if f.get("method") == method
        )
    )


def run_job_three_times_at_once(stack, tmp_path, *args):
    """Three `flask --app server <args>` processes started together, like three machines'
    timers firing in the same second; their outputs."""
    env = {**os.environ, **stack.settings, "PYTHONPATH": str(REPO), "FLASK_SKIP_DOTENV": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "server", *args, "--concurrency", "2"],
            env=env,
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    return [out for out, _ in outputs]


def worked(output):
    """How many orders a run worked on: "reconciled N orders: ..." or "closed N of N ...";
    0 for a run that found another instance running the job."""
    if "running on another instance" in output:
        return 0
    return int(output.split()[1])


def test_three_concurrent_reconcile_runs_query_each_order_once(stack, tmp_path):
    auth = stack.login()
    orders = [stack.create_order(auth).json() for _ in range(8)]
    stack.control("faults", kind="notify", action="drop", times=8)
    for created in orders:
        stack.cashier(created["pay_params"])  # paid at WeChat; every notification is lost
    queries = count_calls(stack, "GET")
    outputs = run_job_three_times_at_once(stack, tmp_path, "reconcile", "--older-than", "0")
    assert queries() == 8, outputs
    assert stack.query("SELECT DISTINCT status FROM orders") == [("PAID",)]
    assert sum(worked(out) for out in outputs) == 8


def test_three_concurrent_close_expired_runs_close_each_order_once(stack, tmp_path):
    auth = stack.login()
    orders = [stack.create_order(auth).json()["order"] for _ in range(6)]
    for order in orders:
        expire(stack, order["id"])
    closes = count_calls(stack, "POST")
    outputs = run_job_three_times_at_once(stack, tmp_path, "close-expired")
    assert closes() == 6, outputs
    assert stack.query("SELECT DISTINCT status FROM orders") == [("CLOSED",)]
    assert sum(worked(out) for out in outputs) == 6


def test_reconcile_stops_at_its_deadline_when_wechat_is_slow(stack):
    auth = stack.login()
    for _ in range(6):
        stack.create_order(auth)
    stack.control("faults", kind="api", path=ORDER_CALLS, method="GET", delay=1.5, times=100)
    started = time.monotonic()
    output = stack.cli("reconcile", "--older-than", "0", "--concurrency", "2", "--deadline", "1")
    # One batch of two queries started before the deadline; none after it.
    assert time.monotonic() - started < 5
    assert output.startswith("reconciled 2 orders") and "stopped at the deadline" in output
    requests.delete(f"{stack.sandbox}/sandbox/faults")
    assert stack.cli("reconcile", "--older-than", "0").startswith("reconciled 6 orders")
