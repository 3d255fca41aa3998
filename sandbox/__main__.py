"""``python -m sandbox --port 8001 [--host 127.0.0.1]``: serve the simulator (dev/test only).

Served by gunicorn, like the backend: ONE process (the simulator's state lives in it) with many
threads, so a slow notify_url or a "delay" fault never blocks other requests, and persistent
HTTP/1.1 connections, as WeChat's servers keep them. werkzeug's development server closes every
connection, so a client's connection reuse could not be seen (or measured) against it.
"""
import argparse

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
        return create_app()


def main():
    parser = argparse.ArgumentParser(description="Local WeChat login + WeChat Pay simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--no-access-log", action="store_true",
                        help="don't log every request (benchmarks)")
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (and --keyfile)")
    parser.add_argument("--keyfile")
    args = parser.parse_args()
    SimulatorServer({
        "bind": f"{args.host}:{args.port}", "workers": 1, "worker_class": "gthread",
        "threads": 32, "keepalive": 30, "timeout": 60, "graceful_timeout": 5,
        "accesslog": None if args.no_access_log else "-", "errorlog": "-",
        "certfile": args.certfile, "keyfile": args.keyfile,
    }).run()


if __name__ == "__main__":
    main()
