"""CPU per order in one process: ``POST /api/orders`` through Flask's test client (no gunicorn,
no HTTP server, one thread), the simulator over HTTP and the database as in production.

    .venv/bin/python bench/cpu_per_order.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/cpu_per_order.py --cprofile /tmp/orders.prof   # then pstats / snakeviz

(The backend's log lines go to stderr: ``2>/dev/null`` keeps just the figure.)

``bench/run.py`` measures the server's CPU under load, where threads taking turns on the GIL,
notifications on the same core and the machine's other work all add to it. This script
measures the order path alone, so two commits can be compared on one machine: run it in a
``git worktree`` of each, alternately (docs/performance.md did this for 2026-12-02's code).
"""

import argparse
import cProfile
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Databases, Server, free_port  # noqa: E402
from sandbox.devkeys import fresh_secrets, generate  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="orders measured (default 300)")
    parser.add_argument("--database-url", help="PostgreSQL (default: a SQLite file)")
    parser.add_argument("--cprofile", metavar="FILE", help="write a cProfile of the orders here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wxpay-cpu-"))
    settings = {**generate(workdir / "keys"), **fresh_secrets(), "SANDBOX_TIME_SCALE": "1"}
    env = {**os.environ, **settings, "PYTHONPATH": str(ROOT), "FLASK_SKIP_DOTENV": "1"}
    port = free_port()
    sandbox = Server(
        "sandbox",
        [sys.executable, "-m", "sandbox", "--port", str(port), "--no-access-log"],
        env,
        workdir,
        cpu=1,
    ).wait_for_port(port)
    databases = Databases(args.database_url, workdir, settings["WECHAT_APPID"])
    try:
        url, _ = databases.create("cpu")
        base = f"http://127.0.0.1:{port}"
        os.environ.update(
            {
                **settings,
                "FLASK_SKIP_DOTENV": "1",
                "DATABASE_URL": url,
                "WECHAT_API_BASE": base,
                "WECHATPAY_API_BASE": base,
                "WECHATPAY_NOTIFY_URL": "http://127.0.0.1:9/api/pay/notify",
                "RATE_LIMIT_ORDER_WRITES": "1000000 per minute",
            }
        )
        from server import create_app

        client = create_app().test_client()
        code = requests.post(f"{base}/sandbox/login-code", json={"openid": "o-bench"}).json()
        token = client.post("/api/login", json={"code": code["code"]}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"items": [{"product_id": 1, "quantity": 1}]}

        def orders(n):
            for _ in range(n):
                response = client.post("/api/orders", json=body, headers=headers)
                assert response.status_code == 201, response.get_data(as_text=True)

        orders(30)  # warm-up: imports, connections, caches
        profile = cProfile.Profile(time.process_time) if args.cprofile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        orders(args.orders)
        if profile:
            profile.disable()
            profile.dump_stats(args.cprofile)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        database = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"POST /api/orders x{args.orders}, in process, {database}"
            f"{', under cProfile' if profile else ''}: "
            f"{cpu / args.orders * 1000:.2f} ms CPU, {wall / args.orders * 1000:.1f} ms wall each"
        )
    finally:
        sandbox.stop()
        databases.drop()


if __name__ == "__main__":
    main()
