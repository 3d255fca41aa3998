"""The loop survives its worker: a process running a counter loop is killed (SIGKILL) while
the customer types the PIN, and the periodic job (``flask payments sync``) finishes it, without
charging again (SQLite and PostgreSQL, simulator over HTTP)."""

import json
import os
import re
import signal
import sys
import textwrap
import time

from tests.support import counter as c
from tests.support import wait_for
from tests.support.processes import Process

# A worker: the app, one sale submitted, its loop in the background pool, then waiting.
WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from server import create_app, cashier
    app = create_app(json.loads(os.environ["WORKER_SETTINGS"]))
    with app.app_context():
        payment, created = cashier.submit(auth_code=sys.argv[1], amount=4321, client_ip="127.0.0.1")
        print("order", payment.order_id, payment.order.out_trade_no, flush=True)
    time.sleep(600)
    """
)


def test_the_job_finishes_a_loop_whose_worker_was_killed(make_stack, tmp_path):
    # Long enough that the worker is still polling when it is killed.
    settings = {**c.FAST, "COUNTER_PIN_TIMEOUT_SECONDS": "30", "COUNTER_LEASE_SECONDS": "1"}
    stack = make_stack(**settings)
    auth_code = c.pin_pays(30)  # the customer types the PIN for 3 s
    worker = Process(
        "counter-worker",
        [sys.executable, "-c", WORKER, auth_code],
        tmp_path,
        env={**os.environ, "WORKER_SETTINGS": json.dumps(stack.settings)},
    )
    try:
        started = wait_for(lambda: re.search(r"order (\d+) (\w+)", worker.output()), timeout=30)
        order_id, out_trade_no = int(started[1]), started[2]
        wait_for(
            lambda: stack.query("SELECT state FROM counter_payments")[0][0] == "PAYING",
            timeout=20,
        )
        os.killpg(worker.popen.pid, signal.SIGKILL)  # mid-USERPAYING
        worker.popen.wait(timeout=10)
    finally:
        worker.stop()
    assert stack.query("SELECT state FROM counter_payments")[0][0] == "PAYING"
    time.sleep(1.1)  # the dead worker's lease lapses
    output = stack.cli("payments", "sync")
    assert "counter:" in output and "SUCCESS" in output, output
    assert c.wait_final(stack.app, order_id)[:3] == ("SUCCESS", None, "PAID")
    charged = [o for o in c.simulator_orders(stack) if o["counter"]["auth_code"] == auth_code]
    assert [o["out_trade_no"] for o in charged] == [out_trade_no]
