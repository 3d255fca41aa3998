"""``python -m sandbox --port 8001 [--host 127.0.0.1]``: serve the simulator (dev/test only)."""
import argparse

from werkzeug.serving import WSGIRequestHandler, run_simple

from . import create_app


class PathOnlyRequestHandler(WSGIRequestHandler):
    """Access log lines without query strings: jscode2session's carries the app secret, and
    ``make dev`` prints this log to the same terminal as the backend's."""

    def log_request(self, code="-", size="-"):
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version,
                 code, size)


def main():
    parser = argparse.ArgumentParser(description="Local WeChat login + WeChat Pay simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = create_app()
    # Threaded so that a slow notify_url or a "delay" fault never blocks other requests.
    run_simple(args.host, args.port, app, threaded=True,
               request_handler=PathOnlyRequestHandler)


if __name__ == "__main__":
    main()
