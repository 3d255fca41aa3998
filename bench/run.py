"""Benchmark: the notify and order paths against baselines started in the same run.

    .venv/bin/python bench/run.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--worker-class sync] [--only paths|latency] [--seconds 6] [--latency-configs 8/8+0,...]

Everything is served by gunicorn with the project's gunicorn.conf.py, pinned to CPU 0 (taskset);
this process (the load generator) and the simulator run on CPU 1. Requests come on a new
connection each, as nginx sends them. Every figure is printed beside its baseline and as a
ratio to it:

- notify: genuine signed, encrypted v3 notifications, one per order (distinct orders), at
  concurrency 1, 8 and 32, against ``bench/baselines.py``'s ceiling (bare Flask +
  Flask-SQLAlchemy, one conditional UPDATE) and crypto floor (the same plus one RSA verify and
  one AES-GCM decrypt). Throughput, p99, and server CPU per request;
- the duplicate storm: one valid notification 2,000 times; exactly one state change (checked);
  compared with first notifications;
- order creation: POST /api/orders (login token, catalogue, INSERT, JSAPI call to the
  simulator, answer verified, paySign) against a bare endpoint (INSERT + verified JSAPI call);
- outbound place_order over TLS against the wechatpayv3 SDK, from this process;
- worker RSS before and after 10,000 requests to the backend, beside the ceiling's.
- orders while WeChat is slow (``--only latency``): POST /api/orders from 64 and 256 clients
  while the simulator answers every JSAPI order after 0, 150 and 300 ms (its "delay" fault),
  the 300 ms rate as a ratio of the 0 ms rate, p50, p99, server CPU per order, and the p99 of
  notifications sent every 50 ms meanwhile; ``--latency-configs`` compares thread and pool
  sizes side by side, ``--delay-scale`` stretches the delays (a loaded machine).

The database is SQLite files in a temporary directory unless --database-url names a PostgreSQL
database (each server gets a schema of its own there, dropped at the end). --quick runs a
fifth of the requests. Numbers depend on the machine and on what else runs on it.
"""

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.devkeys import fresh_secrets, generate  # noqa: E402
from server import _database_url  # noqa: E402
from server.extensions import metadata  # noqa: E402
from server.models import Customer, Order, Product, User  # noqa: E402
from server.timeutil import utcnow  # noqa: E402
from server.wechatpay.core.http import new_http_session  # noqa: E402
from server.wechatpay.core.types import OrderRequest  # noqa: E402
from tests.support.notifications import signed_notification, transaction_for  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1
PINNING = "server pinned to CPU 0, load generator and simulator to CPU 1"
PINNED = (
    (os.cpu_count() or 1) >= 2
    and subprocess.run(["taskset", "-c", "0", "true"], capture_output=True).returncode == 0
    if os.path.exists("/usr/bin/taskset")
    else False
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A child process (gunicorn), pinned to a CPU, with its output in a log file."""

    def __init__(self, name, argv, env, workdir, cpu):
        self.name, self.port = name, int(env.get("GUNICORN_BIND", ":0").rsplit(":", 1)[1])
        self.log = open(workdir / f"{name}.log", "wb")
        prefix = ["taskset", "-c", str(cpu)] if PINNED else []
        self.process = subprocess.Popen(
            prefix + argv,
            env=env,
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_port(self, port, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited; see {self.log.name}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not listen on {port}; see {self.log.name}")

    def pids(self):
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [pid] + [int(child) for child in children]

    def cpu_seconds(self):
        """User + system CPU of the master and its workers so far."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def worker_rss_mb(self):
        """Resident memory of the workers (not the master), summed."""
        total = 0
        for pid in self.pids()[1:]:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


# --- load generation ------------------------------------------------------------------------


def http_request(method, path, headers=None, body=b""):
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def load(port, raw_requests, concurrency):
    """Send the requests from ``concurrency`` clients, each on a new connection, as nginx
    does. Returns (wall seconds, latencies, statuses)."""

    async def main():
        pending = iter(raw_requests)
        latencies, statuses = [], []

        async def client():
            for raw in pending:
                started = time.perf_counter()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                answer = await reader.read()
                writer.close()
                latencies.append(time.perf_counter() - started)
                statuses.append(int(answer[9:12]))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses

    return asyncio.run(main())


def load_for(port, raw, concurrency, seconds, side=None):
    """``concurrency`` clients sending ``raw`` again and again for ``seconds``, each request on
    a new connection. ``side``: (raw requests, interval), sent one at a time by one more client
    at that pace meanwhile (notifications while orders wait on WeChat). Returns
    (wall seconds, latencies, statuses, side latencies, side statuses)."""

    async def main():
        latencies, statuses, side_latencies, side_statuses = [], [], [], []
        deadline = time.perf_counter() + seconds

        async def send(request, into, into_statuses):
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            answer = await reader.read()
            writer.close()
            into.append(time.perf_counter() - started)
            into_statuses.append(int(answer[9:12]))

        async def client():
            while time.perf_counter() < deadline:
                await send(raw, latencies, statuses)

        async def side_client():
            requests_, interval = side
            for request in requests_:
                if time.perf_counter() >= deadline:
                    break
                await send(request, side_latencies, side_statuses)
                await asyncio.sleep(interval)

        started = time.perf_counter()
        tasks = [client() for _ in range(concurrency)] + ([side_client()] if side else [])
        await asyncio.gather(*tasks)
        return time.perf_counter() - started, latencies, statuses, side_latencies, side_statuses

    return asyncio.run(main())


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000 if ordered else 0


class Measure:
    def __init__(self, server, port, raw_requests, concurrency, expect):
        cpu = server.cpu_seconds()
        self.wall, latencies, statuses = load(port, raw_requests, concurrency)
        self.cpu_ms = (server.cpu_seconds() - cpu) / len(raw_requests) * 1000
        bad = [s for s in statuses if s != expect]
        if bad:
            raise SystemExit(
                f"{server.name}: {len(bad)} answers were not {expect} "
                f"(e.g. {bad[0]}); see {server.log.name}"
            )
        self.rate = len(raw_requests) / self.wall
        ordered = sorted(latencies)
        self.p50 = statistics.median(ordered) * 1000
        self.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


# --- databases ------------------------------------------------------------------------------


class Databases:
    """One empty database per server: SQLite files, or PostgreSQL schemas."""

    def __init__(self, base_url, workdir, appid):
        self.base_url, self.workdir, self.schemas = base_url, workdir, []
        self.appid = appid  # the mini program's: the bench user's
        self.admin = create_engine(_database_url(base_url)) if base_url else None

    def create(self, name):
        if self.admin is None:
            url = f"sqlite:///{self.workdir / (name + '.db')}"
        else:
            schema = f"bench_{os.getpid()}_{name}"
            with self.admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            self.schemas.append(schema)
            separator = "&" if "?" in self.base_url else "?"
            url = (
                f"{self.base_url}{separator}options=-csearch_path%3D{schema}"
                f"&application_name={schema}"  # its connections, counted by connections()
            )
        engine = create_engine(_database_url(url))
        metadata.create_all(engine)
        if self.admin is None:  # the backend's setting; it stays with the file
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        with engine.begin() as connection:
            connection.execute(insert(Customer), [{"id": 1}])
            connection.execute(
                insert(User),
                [{"id": 1, "customer_id": 1, "appid": self.appid, "openid": "o-bench"}],
            )
            connection.execute(insert(Product), [{"id": 1, "name": "Bench coffee", "price": 100}])
        return url, engine

    def connections(self, name):
        """PostgreSQL connections the server ``name`` holds now (None on SQLite)."""
        if self.admin is None:
            return None
        return count(
            self.admin,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n",
            n=f"bench_{os.getpid()}_{name}",
        )

    def drop(self):
        if self.admin is not None:
            with self.admin.begin() as connection:
                for schema in self.schemas:
                    connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def add_orders(engines, out_trade_nos, settings):
    now = utcnow()
    rows = [
        {
            "user_id": 1,
            "out_trade_no": no,
            # The mini program's channel, as checkout records it.
            "channel": "miniprogram",
            "trade_type": "JSAPI",
            "appid": settings["WECHAT_APPID"],
            "mchid": settings["WECHATPAY_MCHID"],
            "api_version": "v3",
            "payer_openid": "o-bench",
            "description": "bench",
            "total": 100,
            "status": Order.NOTPAY,
            "time_expire": now + timedelta(minutes=30),
            "prepay_id": "wx-bench",
            "prepay_created_at": now,
            "created_at": now,
        }
        for no in out_trade_nos
    ]
    for engine in engines:
        with engine.begin() as connection:
            connection.execute(insert(Order), rows)


def count(engine, sql, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


# --- notifications --------------------------------------------------------------------------


def sign(job):
    settings, out_trade_no, transaction_id = job
    headers, body = signed_notification(
        settings,
        transaction_for(
            settings, {"out_trade_no": out_trade_no, "total": 100}, transaction_id=transaction_id
        ),
    )
    headers["Bench-Order"] = out_trade_no  # read by the ceiling only
    return http_request("POST", "/api/pay/notify", headers, body)


def notifications(pool, settings, prefix, n):
    numbers = [f"{prefix}{i:010d}" for i in range(n)]
    jobs = [(settings, no, f"42{prefix}{i:020d}"[:28]) for i, no in enumerate(numbers)]
    return numbers, list(pool.map(sign, jobs, chunksize=50))


# --- the run --------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the requests")
    parser.add_argument("--database-url", help="PostgreSQL (default: SQLite files)")
    parser.add_argument("--worker-class", help="override gunicorn.conf.py's (e.g. sync)")
    parser.add_argument(
        "--only",
        choices=["paths", "latency"],
        help="one figure: the notify and order paths, or orders while WeChat is slow",
    )
    parser.add_argument(
        "--seconds", type=float, help="latency figure: seconds per point (default 6; --quick 3)"
    )
    parser.add_argument(
        "--latency-configs",
        metavar="T/P+O,...",
        help="latency figure for each gunicorn threads T, DATABASE_POOL_SIZE P and "
        "DATABASE_MAX_OVERFLOW O, side by side (e.g. 8/8+0,64/10+10); default: the defaults",
    )
    parser.add_argument(
        "--delay-scale",
        type=float,
        default=1.0,
        help="latency figure: multiply WeChat's delays (150, 300 ms); on a loaded machine, "
        "10 shows whether threads cap orders/s while the CPU serves only a few per second",
    )
    args = parser.parse_args()
    seconds = args.seconds or (3 if args.quick else 6)
    if args.latency_configs and not re.fullmatch(
        r"\d+/\d+\+\d+(,\d+/\d+\+\d+)*", args.latency_configs.replace(" ", "")
    ):
        parser.error("--latency-configs looks like 8/8+0,64/10+10")
    configs = [
        dict(
            zip(
                ("GUNICORN_THREADS", "DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW"),
                numbers,
                strict=True,
            )
        )
        for numbers in (
            re.fullmatch(r"(\d+)/(\d+)\+(\d+)", c.strip()).groups()
            for c in (args.latency_configs or "").split(",")
            if c.strip()
        )
    ]
    scale = 5 if args.quick else 1
    sizes = {1: 300 // scale, 8: 1000 // scale, 32: 2000 // scale}
    storm, orders_n, outbound_n, rss_total = (
        2000 // scale,
        500 // scale,
        200 // scale,
        10000 // scale,
    )

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # stop the servers too
    workdir = Path(tempfile.mkdtemp(prefix="wxpay-bench-"))
    settings = {**generate(workdir / "keys"), **fresh_secrets(), "SANDBOX_TIME_SCALE": "1"}
    databases = Databases(args.database_url, workdir, settings["WECHAT_APPID"])
    servers = {}
    if PINNED:
        os.sched_setaffinity(0, {CLIENT_CPU})
    base_env = {
        **os.environ,
        **settings,
        "PYTHONPATH": str(ROOT),
        "FLASK_SKIP_DOTENV": "1",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    if args.worker_class:
        base_env["GUNICORN_WORKER_CLASS"] = args.worker_class
    try:
        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        servers["sandbox"] = Server(
            "sandbox",
            [sys.executable, "-m", "sandbox", "--port", str(sandbox_port), "--no-access-log"],
            base_env,
            workdir,
            CLIENT_CPU,
        ).wait_for_port(sandbox_port)
        engines, ports = {}, {}
        apps = (
            []
            if args.only == "latency"
            else [
                ("ceiling", "bench.baselines:create_app()", {}),
                ("crypto", "bench.baselines:create_app()", {}),
                ("order", "bench.baselines:create_app()", {}),
            ]
        )
        apps.append(("project", "server:create_app()", {}))
        for n, config in enumerate(configs if args.only != "paths" else []):
            apps.append((f"latency{n}", "server:create_app()", config))
        for name, app, overrides in apps:
            url, engines[name] = databases.create(name)
            ports[name] = free_port()
            env = {
                **base_env,
                "DATABASE_URL": url,
                "BENCH_BASELINE": name,
                "GUNICORN_BIND": f"127.0.0.1:{ports[name]}",
                "WECHAT_API_BASE": sandbox_url,
                "WECHATPAY_API_BASE": sandbox_url,
                # One bench user places hundreds of orders a minute; the limiter still
                # counts every request, it just never refuses one.
                "RATE_LIMIT_ORDER_WRITES": "1000000 per minute",
                "RATE_LIMIT_ORDER_READS": "1000000 per minute",
                "WECHATPAY_NOTIFY_URL": f"http://127.0.0.1:{ports['project']}/api/pay/notify"
                if "project" in ports
                else "http://127.0.0.1:9/api/pay/notify",
                **overrides,
            }
            servers[name] = Server(
                name,
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app],
                env,
                workdir,
                SERVER_CPU,
            )
        for name in ports:
            servers[name].wait_for_port(ports[name])
        report = []
        if args.only != "latency":
            report.append(
                run(
                    args,
                    settings,
                    servers,
                    ports,
                    engines,
                    sandbox_url,
                    workdir,
                    sizes,
                    storm,
                    orders_n,
                    outbound_n,
                    rss_total,
                )
            )
        if args.only != "paths":
            candidates = [
                (name, overrides) for name, _, overrides in apps if name.startswith("latency")
            ] or [("project", {})]
            report.append(
                latency_report(
                    args,
                    settings,
                    servers,
                    ports,
                    engines,
                    databases,
                    sandbox_url,
                    candidates,
                    seconds,
                )
            )
        report = "\n".join(report)
    finally:
        for server in servers.values():
            server.stop()
        databases.drop()
    print(report)


def run(
    args,
    settings,
    servers,
    ports,
    engines,
    sandbox_url,
    workdir,
    sizes,
    storm,
    orders_n,
    outbound_n,
    rss_total,
):
    lines = []
    failed = []

    def row(name, value, baseline, ratio, target=None, higher_is_better=True):
        ok = (
            ""
            if target is None
            else (
                "  ok" if (ratio >= target if higher_is_better else ratio <= target) else "  MISSED"
            )
            + f" (target {'>=' if higher_is_better else '<='} {target})"
        )
        if ok.strip().startswith("MISSED"):
            failed.append(name)
        lines.append(f"{name:<36} {value:>22}  {baseline:>34}  {ratio:6.2f}{ok}")

    notify_targets = ["ceiling", "crypto", "project"]
    project, ceiling = servers["project"], servers["ceiling"]
    sent_to_project = 0
    code = requests.post(f"{sandbox_url}/sandbox/login-code", json={"openid": "o-bench"}).json()
    token = requests.post(
        f"http://127.0.0.1:{ports['project']}/api/login", json={"code": code["code"]}
    ).json()["token"]
    with ProcessPoolExecutor(2) as pool:
        # Warm-up: every worker imports, connects and fills its caches.
        numbers, warm = notifications(pool, settings, "W", 60)
        add_orders([engines[t] for t in notify_targets], numbers, settings)
        for name in notify_targets:
            Measure(servers[name], ports[name], warm, 8, 204)
        sent_to_project += len(warm)
        rss_before = project.worker_rss_mb()

        results = {}
        for concurrency, n in sizes.items():
            numbers, signed = notifications(pool, settings, f"N{concurrency}x", n)
            add_orders([engines[t] for t in notify_targets], numbers, settings)
            for name in notify_targets:  # alternating, on the same signed notifications
                results[name, concurrency] = Measure(
                    servers[name], ports[name], signed, concurrency, 204
                )
                paid = count(
                    engines[name],
                    "SELECT count(*) FROM orders WHERE status = 'PAID' AND out_trade_no LIKE :p",
                    p=f"N{concurrency}x%",
                )
                assert paid == n, f"{name}: {paid} of {n} orders paid"
            sent_to_project += n

        numbers, [one] = notifications(pool, settings, "S", 1)
        add_orders([engines["project"]], numbers, settings)
        storm_result = Measure(project, ports["project"], [one] * storm, 32, 204)
        sent_to_project += storm
        events = count(
            engines["project"],
            "SELECT count(*) FROM payment_events e JOIN orders o "
            "ON o.id = e.order_id WHERE o.out_trade_no = :no",
            no=numbers[0],
        )
        status = count(
            engines["project"], "SELECT status FROM orders WHERE out_trade_no = :no", no=numbers[0]
        )
        assert (events, status) == (1, "PAID"), f"storm: {events} events, order {status}"

    body = b'{"items":[{"product_id":1,"quantity":1}]}'
    order_request = http_request(
        "POST",
        "/api/orders",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body,
    )
    bare_request = http_request("POST", "/api/orders", {"Content-Type": "application/json"}, body)
    Measure(servers["order"], ports["order"], [bare_request] * 20, 8, 201)  # warm-up
    Measure(project, ports["project"], [order_request] * 20, 8, 201)
    bare_orders = Measure(servers["order"], ports["order"], [bare_request] * orders_n, 32, 201)
    project_orders = Measure(project, ports["project"], [order_request] * orders_n, 32, 201)
    sent_to_project += orders_n + 20

    # Reads of paid orders (no call to WeChat) until the backend has served rss_total requests.
    ids = [
        i
        for (i,) in engines["project"]
        .connect()
        .execute(text("SELECT id FROM orders WHERE status = 'PAID' ORDER BY id"))
    ]
    reads = max(0, rss_total - sent_to_project)
    read_requests = [
        http_request(
            "GET", f"/api/orders/{ids[i % len(ids)]}", {"Authorization": f"Bearer {token}"}
        )
        for i in range(reads)
    ]
    reads_result = Measure(project, ports["project"], read_requests, 8, 200) if reads else None
    rss_after = project.worker_rss_mb()
    ceiling_rss = ceiling.worker_rss_mb()

    outbound = measure_outbound(settings, workdir, outbound_n)

    database = "PostgreSQL" if args.database_url else "SQLite"
    worker = args.worker_class or "gunicorn.conf.py's (gthread)"
    lines.append(
        f"bench/run.py{' --quick' if args.quick else ''}: {database}, worker class "
        f"{worker}, {PINNING if PINNED else 'not pinned'}"
    )
    lines.append(f"{'figure':<36} {'this project':>22}  {'baseline':>34}  {'ratio':>6}")

    def figure(m):
        return f"{m.rate:6.0f}/s p99 {m.p99:5.1f}ms {m.cpu_ms:4.1f}msCPU"

    for concurrency in sizes:
        p = results["project", concurrency]
        for base in ("ceiling", "crypto"):
            b = results[base, concurrency]
            target = 0.8 if base == "crypto" else None
            row(
                f"notify c={concurrency} vs {base}",
                figure(p),
                f"{base} {figure(b)}",
                p.rate / b.rate,
                target,
            )
    p, b = results["project", 32], results["ceiling", 32]
    row(
        "notify p99 c=32 / ceiling p99",
        f"{p.p99:.1f} ms",
        f"ceiling {b.p99:.1f} ms",
        p.p99 / b.p99,
        1.3,
        higher_is_better=False,
    )
    row(
        f"duplicate storm x{storm} c=32",
        figure(storm_result),
        f"first notifications {figure(p)}",
        storm_result.rate / p.rate,
        1.0,
    )
    row(
        "POST /api/orders c=32",
        figure(project_orders),
        f"bare {figure(bare_orders)}",
        project_orders.rate / bare_orders.rate,
        0.75,
    )
    if reads_result:
        row(
            "GET /api/orders/<id> (paid) c=8",
            figure(reads_result),
            f"ceiling notify c=8 {figure(results['ceiling', 8])}",
            reads_result.rate / results["ceiling", 8].rate,
        )
    row(
        f"worker RSS after {rss_total} requests",
        f"{rss_after:.0f} MB",
        f"before {rss_before:.0f} MB",
        rss_after / rss_before,
    )
    row(
        "worker RSS vs the ceiling's",
        f"{rss_after:.0f} MB",
        f"ceiling {ceiling_rss:.0f} MB",
        rss_after / ceiling_rss,
    )
    ours, sdk = outbound
    row(
        f"outbound place_order over TLS x{outbound_n}",
        f"{ours:6.0f} calls/s",
        f"wechatpayv3 SDK {sdk:6.0f} calls/s",
        ours / sdk,
    )
    lines.append("targets missed: " + (", ".join(failed) if failed else "none"))
    return "\n".join(lines)


# --- orders while WeChat is slow -------------------------------------------------------------

DELAYS = (0, 0.15, 0.3)  # WeChat's answer time: loopback, and its usual range from China
LATENCY_CONCURRENCY = (64, 256)
NOTIFY_INTERVAL = 0.05  # one notification every 50 ms, beside the orders


def slow_wechat(sandbox_url, delay):
    """Make the simulator answer every JSAPI order after ``delay`` seconds (0: at once)."""
    requests.delete(f"{sandbox_url}/sandbox/faults").raise_for_status()
    if delay:
        requests.post(
            f"{sandbox_url}/sandbox/faults",
            json={
                "kind": "api",
                "path": "/v3/pay/transactions/jsapi",
                "method": "POST",
                "delay": delay,
                "times": 10**9,
            },
        ).raise_for_status()


class Point:
    """Orders placed for ``seconds`` at one concurrency and one WeChat delay, with paced
    notifications meanwhile."""

    def __init__(self, server, port, order_request, concurrency, seconds, notifications):
        cpu = server.cpu_seconds()
        wall, latencies, statuses, notify_latencies, notify_statuses = load_for(
            port, order_request, concurrency, seconds, (notifications, NOTIFY_INTERVAL)
        )
        for expect, got in ((201, statuses), (204, notify_statuses)):
            bad = [s for s in got if s != expect]
            if bad:
                raise SystemExit(
                    f"{server.name}: {len(bad)} answers were not {expect} (e.g. {bad[0]}); "
                    f"see {server.log.name}"
                )
        # CPU per order includes the paced notifications' (a few percent of it).
        self.cpu_ms = (server.cpu_seconds() - cpu) / len(latencies) * 1000
        self.rate = len(latencies) / wall
        self.p50, self.p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        self.notify_p99 = percentile(notify_latencies, 0.99)


def latency_points(
    name, settings, server, port, engine, databases, sandbox_url, pool, seconds, delays
):
    code = requests.post(f"{sandbox_url}/sandbox/login-code", json={"openid": "o-bench"}).json()
    token = requests.post(f"http://127.0.0.1:{port}/api/login", json={"code": code["code"]}).json()[
        "token"
    ]
    order_request = http_request(
        "POST",
        "/api/orders",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        b'{"items":[{"product_id":1,"quantity":1}]}',
    )
    per_point = int(seconds / NOTIFY_INTERVAL) + 20
    slow_wechat(sandbox_url, 0)
    load_for(port, order_request, 64, 1)  # warm-up: threads, connections, caches
    points, most_connections = {}, 0
    for ci, concurrency in enumerate(LATENCY_CONCURRENCY):
        for di, delay in enumerate(delays):
            # Short: notifications() makes transaction ids of 28 characters from it.
            numbers, signed = notifications(pool, settings, f"L{name[-1]}{ci}{di}", per_point)
            add_orders([engine], numbers, settings)
            slow_wechat(sandbox_url, delay)
            points[concurrency, delay] = Point(
                server, port, order_request, concurrency, seconds, signed
            )
            most_connections = max(most_connections, databases.connections(name) or 0)
    slow_wechat(sandbox_url, 0)
    return points, most_connections, server.worker_rss_mb()


def latency_report(
    args, settings, servers, ports, engines, databases, sandbox_url, candidates, seconds
):
    lines, failed = [], []
    delays = tuple(d * args.delay_scale for d in DELAYS)
    mid_ms, slow_ms = (f"{d * 1000:.0f} ms" for d in delays[1:])
    database = "PostgreSQL" if args.database_url else "SQLite"
    lines.append(
        f"orders while WeChat answers in 0, {mid_ms} and {slow_ms}, {seconds:g} s per point, "
        f"{database}, "
        f"{PINNING if PINNED else 'not pinned'}; notifications every "
        f"{NOTIFY_INTERVAL * 1000:.0f} ms meanwhile"
    )
    lines.append(f"{'figure':<44} {f'at {slow_ms} ({mid_ms})':>40}  {'at 0 ms':>34}  {'ratio':>6}")

    def figure(p):
        return f"{p.rate:5.0f}/s p50 {p.p50:4.0f} p99 {p.p99:5.0f}ms {p.cpu_ms:4.1f}msCPU"

    def row(label, value, base, ratio, verdict=""):
        lines.append(f"{label:<44} {value:>40}  {base:>34}  {ratio}{verdict and '  ' + verdict}")

    with ProcessPoolExecutor(2) as pool:
        for name, overrides in candidates:
            config = (
                f"threads {overrides['GUNICORN_THREADS']}, pool "
                f"{overrides['DATABASE_POOL_SIZE']}+{overrides['DATABASE_MAX_OVERFLOW']}"
                if overrides
                else "the defaults (gunicorn.conf.py, config.py)"
            )
            points, connections, rss = latency_points(
                name,
                settings,
                servers[name],
                ports[name],
                engines[name],
                databases,
                sandbox_url,
                pool,
                seconds,
                delays,
            )
            if overrides:  # a candidate: its connections go back before the next one's
                servers[name].stop()
            lines.append(
                f"-- {config}: PostgreSQL connections held after the run "
                f"{connections if args.database_url else 'n/a'}, worker RSS {rss:.0f} MB"
            )
            for c in LATENCY_CONCURRENCY:
                fast, mid, slow = (points[c, d] for d in delays)
                ratio = slow.rate / fast.rate
                if ratio < 0.9:
                    failed.append(f"{config} c={c} {slow_ms} / 0 ms")
                if c == 64 and slow.p99 >= 1500:
                    failed.append(f"{config} p99 c=64 at {slow_ms}")
                row(
                    f"orders c={c} WeChat {slow_ms} / 0 ms",
                    figure(slow),
                    figure(fast),
                    f"{ratio:6.2f}  {'ok' if ratio >= 0.9 else 'MISSED'} (target >= 0.9)",
                )
                row(
                    f"orders c={c} WeChat {mid_ms} / 0 ms",
                    figure(mid),
                    "",
                    f"{mid.rate / fast.rate:6.2f}",
                )
                if c == 64:
                    verdict = "ok" if slow.p99 < 1500 else "MISSED"
                    row(f"order p99 c={c} at {slow_ms}", f"{slow.p99:.0f} ms", "", "", verdict)
                    lines[-1] += " (target < 1500 ms)"
                row(
                    f"notify p99 while c={c} orders wait {slow_ms}",
                    f"{slow.notify_p99:.1f} ms",
                    f"{fast.notify_p99:.1f} ms",
                    f"{slow.notify_p99 / max(fast.notify_p99, 0.001):6.2f}",
                )
    lines.append("latency targets missed: " + (", ".join(failed) if failed else "none"))
    return "\n".join(lines)


def measure_outbound(settings, workdir, n):
    """place_order from this process to a simulator over HTTPS: our V3Gateway (one pooled
    session) against the wechatpayv3 SDK (a new connection per call)."""
    from server.channels import build_gateway
    from tests.support.sdk import make_sdk
    from tests.support.tls import make_tls

    tls = make_tls(workdir / "tls")
    os.environ["REQUESTS_CA_BUNDLE"] = tls["ca"]  # both clients verify the simulator with it
    port = free_port()
    env = {**os.environ, **settings, "PYTHONPATH": str(ROOT), "FLASK_SKIP_DOTENV": "1"}
    server = Server(
        "sandbox-tls",
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--no-access-log",
            "--tls-cert",
            tls["cert"],
            "--tls-key",
            tls["key"],
        ],
        env,
        workdir,
        CLIENT_CPU,
    )
    server.wait_for_port(port)
    url = f"https://localhost:{port}"
    try:
        gateway = build_gateway(
            {**settings, "WECHATPAY_API_VERSION": "v3", "WECHATPAY_API_BASE": url},
            new_http_session(),
            10,
        )

        class Sandbox:
            pass

        simulator = Sandbox()
        simulator.url = url
        sdk = make_sdk(simulator, settings, public_key_mode=True)
        expire = utcnow() + timedelta(minutes=30)

        def ours(i):
            gateway.place_order(
                OrderRequest(
                    out_trade_no=f"OUT{i:010d}",
                    description="bench",
                    total=100,
                    openid="o-bench",
                    notify_url="https://127.0.0.1:9/notify",
                    time_expire=expire,
                )
            )

        def theirs(i):
            code, message = sdk.pay(
                description="bench",
                out_trade_no=f"SDK{i:010d}",
                amount={"total": 100},
                payer={"openid": "o-bench"},
                notify_url="https://127.0.0.1:9/notify",
            )
            assert code == 200, message

        rates = []
        for call in (ours, theirs):
            call(-1)  # warm-up
            started = time.perf_counter()
            for i in range(n):
                call(i)
            rates.append(n / (time.perf_counter() - started))
        return rates
    finally:
        server.stop()
        del os.environ["REQUESTS_CA_BUNDLE"]


if __name__ == "__main__":
    main()
