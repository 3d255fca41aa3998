"""Benchmark: how fast the backend places orders and applies payment notifications.

    .venv/bin/python bench/payment_bench.py [--orders 200] [--concurrency 8]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Starts the simulator and the backend in this process over real HTTP (werkzeug, threaded),
like the tests do, then measures:

- order creation: POST /api/orders end to end (pricing, DB, a signed v3 call to the simulator,
  response verification, paySign);
- notifications: POSTs genuine signed, encrypted v3 notifications (one per order) from
  ``--concurrency`` threads: verification, decryption, event insert and the compare-and-set;
- duplicates: the same notifications again (the idempotent path).

It prints throughput and latency percentiles. Numbers depend on the machine; compare runs on
the same machine. The database is a fresh SQLite file unless --database-url names one (its
tables are dropped and recreated).
"""
import argparse
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sandbox  # noqa: E402
from sandbox.devkeys import fresh_secrets, generate  # noqa: E402
from server import create_app  # noqa: E402
from server.catalogue import seed_catalogue  # noqa: E402
from server.extensions import db  # noqa: E402
from tests.live import LiveServer  # noqa: E402
from tests.notifications import signed_notification, transaction_for  # noqa: E402


def timed(function, items, concurrency):
    """Run function over items from a thread pool; (wall seconds, per-call latencies)."""
    def one(item):
        start = time.perf_counter()
        function(item)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, items))
    return time.perf_counter() - start, latencies


def report(name, wall, latencies):
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"{name:<28} {len(latencies) / wall:8.1f} /s   p50 {statistics.median(ordered) * 1000:6.1f} ms"
          f"   p95 {p95 * 1000:6.1f} ms   ({len(latencies)} in {wall:.2f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # the per-request INFO lines would dominate
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    workdir = Path(tempfile.mkdtemp(prefix="wxpay-bench-"))
    settings = {**generate(workdir / "keys"), **fresh_secrets(), "SANDBOX_TIME_SCALE": "1"}
    simulator = LiveServer(sandbox.create_app(settings)).start()
    backend = LiveServer()
    settings.update(DATABASE_URL=args.database_url or f"sqlite:///{workdir / 'app.db'}",
                    WECHAT_API_BASE=simulator.url, WECHATPAY_API_BASE=simulator.url,
                    WECHATPAY_NOTIFY_URL=f"{backend.url}/api/pay/notify")
    app = create_app(settings)
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_catalogue()
    backend.app = app
    backend.start()

    session = requests.Session()
    code = session.post(f"{simulator.url}/sandbox/login-code", json={}).json()["code"]
    token = session.post(f"{backend.url}/api/login", json={"code": code}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    orders = []

    def create(_):
        response = requests.post(f"{backend.url}/api/orders", headers=auth,
                                 json={"items": [{"product_id": 1, "quantity": 1}]})
        assert response.status_code == 201, response.text
        orders.append(response.json()["order"])

    print(f"{args.orders} orders, {args.concurrency} threads, database "
          f"{settings['DATABASE_URL'].split(':')[0]}")
    report("POST /api/orders", *timed(create, range(args.orders), args.concurrency))

    notifications = [signed_notification(settings, transaction_for(
        settings, order, transaction_id=f"42{i:026d}")) for i, order in enumerate(orders)]

    def notify(notification):
        headers, body = notification
        response = requests.post(f"{backend.url}/api/pay/notify", headers=headers, data=body)
        assert response.status_code == 204, response.text

    report("notification (first)", *timed(notify, notifications, args.concurrency))
    report("notification (duplicate)", *timed(notify, notifications, args.concurrency))
    with app.app_context():
        paid = db.session.execute(db.text("SELECT count(*) FROM orders WHERE status = 'PAID'"))
        assert paid.scalar() == args.orders
    backend.stop()
    simulator.stop()


if __name__ == "__main__":
    main()
