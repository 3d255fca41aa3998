"""Run the whole thing locally: the backend and the WeChat simulator, wired to each other.

``make dev`` runs this. On the first run it writes development keys and a ``.env``; every run
migrates the SQLite schema, loads the demo catalogue with the one-fen test item (``seed --dev``),
then starts the simulator and the backend and prints ``READY backend=... sandbox=...`` once both
answer, then the staff console's address and how to log in (the first run creates a development
admin and prints its password once), and the web shop's address (served by the backend).
Ctrl-C (or SIGTERM) stops both.

When a port is already taken (another ``make dev``, or any other server), it says which and
how to choose others (``make dev BACKEND_PORT=8100 SANDBOX_PORT=8101``) and exits with status 1
before starting anything: otherwise its health checks would reach the other server and report
READY for a stack that is not there.
"""

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.devkeys import ensure_env  # noqa: E402

DEV_ADMIN = "admin@example.com"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--provider",
        action="store_true",
        help="a service provider's deployment with two demo stores (docs/provider.md)",
    )
    parser.add_argument("--backend-port", type=int, default=8000)
    parser.add_argument("--sandbox-port", type=int, default=8001)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--env-file", default=str(ROOT / ".env"))
    parser.add_argument("--keys-dir", default=str(ROOT / "instance" / "dev-keys"))
    parser.add_argument("--database-url", default="sqlite:///" + str(ROOT / "instance" / "app.db"))
    parser.add_argument(
        "--key-mode",
        choices=("public-key", "certificate", "migrating"),
        help="the simulated merchant's keys (default: .env, else public-key: "
        "a merchant created today); the backend is set up to match",
    )
    parser.add_argument(
        "--time-scale",
        default=None,
        help="simulator notification retry time scale (default: .env or 1)",
    )
    return parser.parse_args()


# `make dev PROVIDER=1`: the simulated merchant is a service provider with two sub-merchants,
# and the shop sells for both in the provider's mini program (the centralised shape).
PROVIDER_DEMO = {
    "WECHATPAY_MODE": "provider",
    "WECHATPAY_STORES": "tea,noodles",
    "WECHATPAY_STORE_TEA_SUB_MCHID": "1900000101",
    "WECHATPAY_STORE_TEA_NAME": "西湖茶铺",
    "WECHATPAY_STORE_NOODLES_SUB_MCHID": "1900000102",
    "WECHATPAY_STORE_NOODLES_NAME": "兰州面馆",
    "SANDBOX_SUB_MERCHANTS": "1900000101,1900000102",
}


def child_environment(args):
    env_file = Path(args.env_file).resolve()
    env_file.parent.mkdir(parents=True, exist_ok=True)
    backend = f"http://{args.host}:{args.backend_port}"
    sandbox = f"http://{args.host}:{args.sandbox_port}"
    # The wiring between the two processes always follows the ports chosen here. It is written
    # to the env file too, so `flask --app server ...` in a second terminal reaches this stack.
    wiring = {
        "WECHAT_API_BASE": sandbox,
        "WECHAT_OPEN_BASE": sandbox,
        "WECHATPAY_API_BASE": sandbox,
        "WECHATPAY_NOTIFY_URL": f"{backend}/api/pay/notify",
        "SANDBOX_PUSH_URL": f"{backend}/api/wechat/push",
        "DATABASE_URL": args.database_url,
    }
    values = ensure_env(args.keys_dir, env_file, wiring=wiring)
    env = {**values, **os.environ}  # as with dotenv: the real environment wins over the file
    env.update(
        {
            **wiring,
            "PYTHONPATH": str(ROOT),
            "FLASK_SKIP_DOTENV": "1",  # the env file above is the one source of settings
            "PYTHONUNBUFFERED": "1",
        }
    )
    if args.time_scale:
        env["SANDBOX_TIME_SCALE"] = args.time_scale
    if args.key_mode:
        env["SANDBOX_KEY_MODE"] = args.key_mode
    if args.provider:
        env.update(PROVIDER_DEMO)
        # Every appid the shop pays in is bound to the provider (its sp_appids): the mini
        # program, the official account, the app (docs/provider.md, "What to configure").
        appids = (env.get(name) for name in ("WECHAT_APPID", "WECHAT_OA_APPID", "WECHAT_APP_APPID"))
        env.setdefault("SANDBOX_SP_APPIDS", ",".join(a for a in appids if a))
    if env.get("SANDBOX_KEY_MODE") == "certificate":
        # An older merchant has no WeChat Pay public key: nor does its backend.
        env.update(WECHATPAY_PUBLIC_KEY_ID="", WECHATPAY_PUBLIC_KEY="")
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return env, backend, sandbox, env_file.parent


def port_taken(host, port):
    """Why ``host:port`` cannot be served (a short reason), or None when it is free.

    Binds as the servers do (SO_REUSEADDR, so a port a stopped stack left in TIME_WAIT counts as
    free) and also tries to connect, which finds a server listening on another address of the
    same port where the system lets both bind (macOS)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"{host} does not resolve ({exc.strerror})"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(address) == 0:
            return "a server already answers there"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "another program holds it"
            return exc.strerror or str(exc)
    return None


def check_ports(args):
    """Exit with one line per taken port, and what to do, before anything is started."""
    problems = []
    for role, port in (("backend", args.backend_port), ("simulator", args.sandbox_port)):
        reason = port_taken(args.host, port)
        if reason:
            problems.append(
                f"make dev: port {port} for the {role} on {args.host} is taken: {reason}."
            )
    if args.backend_port == args.sandbox_port:
        problems.append(
            f"make dev: the backend and the simulator both want port {args.backend_port}."
        )
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(
            "Is another `make dev` running? Stop it with Ctrl-C in its terminal. Or choose "
            "free ports: make dev BACKEND_PORT=8100 SANDBOX_PORT=8101 "
            "(scripts/devstack.py --backend-port 8100 --sandbox-port 8101).",
            file=sys.stderr,
        )
        raise SystemExit(1)


def wait_until_up(url, processes, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.args[2]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status still means it is up
                return
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout}s")


def dev_admin(flask, env, workdir):
    """How to log in to the console: a development admin, made (with a printed password) on
    the first run. Never for production: there, staff accounts are made by hand."""
    if env.get("APP_ENV") == "production":
        return "(production: create staff with `flask --app server staff create`)"
    made = subprocess.run(
        flask + ["staff", "create", DEV_ADMIN, "--role", "admin", "--generate"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    for line in made.stdout.splitlines():
        if line.startswith("password"):
            password = line.rsplit(" ", 1)[1]
            return f"log in as {DEV_ADMIN} with password {password} (shown on this first run only)"
    if "already has an account" not in made.stderr:
        print(made.stderr, file=sys.stderr)
    return (
        f"log in as {DEV_ADMIN} (password shown on the first run; a new one: "
        f"flask --app server staff reset-password {DEV_ADMIN} --generate)"
    )


def main():
    args = parse_args()
    check_ports(args)
    env, backend, sandbox, workdir = child_environment(args)
    python = sys.executable
    flask = [python, "-m", "flask", "--app", "server"]
    for command in (["db", "upgrade"], ["seed", "--dev"]):
        subprocess.run(flask + command, env=env, cwd=workdir, check=True, stdout=subprocess.DEVNULL)
    console_login = dev_admin(flask, env, workdir)

    # The servers' own output goes to stderr: stdout carries only the READY and console lines.
    processes = [
        subprocess.Popen(
            [python, "-m", "sandbox", "--host", args.host, "--port", str(args.sandbox_port)],
            env=env,
            cwd=workdir,
            stdout=sys.stderr,
        ),
        subprocess.Popen(
            flask
            + [
                "run",
                "--host",
                args.host,
                "--port",
                str(args.backend_port),
                "--no-reload",
                "--no-debugger",
                "--with-threads",
            ],
            env=env,
            cwd=workdir,
            stdout=sys.stderr,
        ),
    ]

    def stop(*_, status=0):
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(status)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wait_until_up(f"{sandbox}/sandbox/health", processes)
        wait_until_up(f"{backend}/api/products", processes)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        stop(status=1)
    print(f"READY backend={backend} sandbox={sandbox}", flush=True)
    print(f"Staff console: {backend}/console/  {console_login}", flush=True)
    print(f"Web shop: {backend}/shop/  (docs/web-shop.md)", flush=True)
    while all(process.poll() is None for process in processes):
        time.sleep(0.5)
    stop(status=1)  # one of them died


if __name__ == "__main__":
    main()
