"""bench/cpu_per_order.py keeps working: the figure docs/performance.md compares commits with."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.database_agnostic  # the script's own choice (SQLite by default)


def test_cpu_per_order_places_real_orders_and_prints_the_figure():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cpu_per_order.py"), "--orders", "5"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figure = re.fullmatch(
        r"POST /api/orders x5, in process, SQLite: ([\d.]+) ms CPU, ([\d.]+) ms wall each\n",
        run.stdout,
    )
    assert figure, run.stdout
    cpu, wall = map(float, figure.groups())
    assert 0 < cpu and 0 < wall
    # Each order was placed with the simulator (the log line of its JSAPI call).
    assert run.stderr.count("POST /v3/pay/transactions/jsapi: HTTP 200") == 35
