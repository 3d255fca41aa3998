"""``python -m sandbox --port 8001 [--backup-port 8002] [--host 127.0.0.1]``: serve the
simulator (dev/test only).

- ``--backup-port``: the same simulator also answers on a second port, standing in for WeChat's
  backup domain (api2.mch.weixin.qq.com): point WECHATPAY_API_BASE_BACKUP at it, and fault
  either port with an api fault's "port".
- ``--tls-cert``/``--tls-key``: HTTPS, as WeChat serves it. The handshake asks for a client
  certificate (verified against ``--client-ca``, by default the merchant's certificate), which
  the ``/secapi/`` paths require.
- ``--threads N`` (default 256): how many requests it serves at once. A "delay" fault sleeps in
  the request's thread, so N is how many delayed answers can be pending together; 256 covers
  bench/run.py's latency figure (256 clients, each order one call to WeChat) with room to spare.

Served by gunicorn, like the backend: ONE process (the simulator's state lives in it) with many
threads (started as requests need them, up to ``--threads``), so
a slow notify_url or a "delay" fault never blocks other requests, and persistent
HTTP/1.1 connections, as WeChat's servers keep them (werkzeug's development server closes every
connection, so a client's connection reuse could not be seen or measured against it).
"""

import argparse
import ssl

from gunicorn.app.base import BaseApplication

from . import create_app


class SimulatorServer(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        # Built in the worker, not the master: the simulator's delivery threads live there.
        return with_client_certificate(create_app())


def with_client_certificate(app):
    """Put the TLS client certificate (if one was presented and verified) in the WSGI environ
    as ``SSL_CLIENT_CERT``, where the /secapi/ routes look for it."""

    def middleware(environ, start_response):
        sock = environ.get("gunicorn.socket")
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        if der:
            environ["SSL_CLIENT_CERT"] = ssl.DER_cert_to_PEM_cert(der)
        return app(environ, start_response)

    return middleware


def main():
    parser = argparse.ArgumentParser(description="Local WeChat login + WeChat Pay simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--backup-port",
        type=int,
        default=None,
        help="also serve on this port, as WeChat's backup domain",
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="don't log every request (benchmarks)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=256,
        help="requests served at once, delayed ones included (default %(default)s)",
    )
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the key of --tls-cert (PEM)")
    parser.add_argument(
        "--client-ca",
        help="CA file that issued merchant client certificates "
        "(default: WECHATPAY_CERT, self-signed in dev)",
    )
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    options = {
        "bind": [f"{args.host}:{port}" for port in (args.port, args.backup_port) if port],
        "workers": 1,
        "worker_class": "gthread",
        "threads": args.threads,
        "keepalive": 30,
        "timeout": 60,
        "graceful_timeout": 5,
        "errorlog": "-",
        # gunicorn >= 25 would open a control socket under $HOME, shared by every simulator
        # run by one user.
        "control_socket_disable": True,
        # Paths only: the query string of jscode2session carries the app secret.
        "accesslog": None if args.no_access_log else "-",
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s',
    }
    if args.tls_cert:
        from .config import load_settings

        options.update(
            certfile=args.tls_cert,
            keyfile=args.tls_key,
            ca_certs=args.client_ca or load_settings()["WECHATPAY_CERT"],
            cert_reqs=ssl.CERT_OPTIONAL,
        )
    SimulatorServer(options).run()


if __name__ == "__main__":
    main()
