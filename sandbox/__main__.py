"""``python -m sandbox --port 8001 [--backup-port 8002] [--host 127.0.0.1]``: serve the
simulator (dev/test only). With ``--backup-port`` the same simulator also answers on a second
port, standing in for WeChat's backup domain (api2.mch.weixin.qq.com): point
WECHATPAY_API_BASE_BACKUP at it, and fault either port with an api fault's "port".

One process (the simulator's state lives in it), threaded, so a slow notify_url or a "delay"
fault never blocks other requests. werkzeug's threaded server speaks HTTP/1.1 and keeps
connections alive, as WeChat's servers do, so a client's connection reuse can be measured
against it. ``--certfile``/``--keyfile`` serve HTTPS.
"""
import argparse
import logging
import ssl
import threading

from werkzeug.serving import make_server

from . import create_app


def main():
    parser = argparse.ArgumentParser(description="Local WeChat login + WeChat Pay simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--backup-port", type=int, default=None,
                        help="also serve on this port, as WeChat's backup domain")
    parser.add_argument("--no-access-log", action="store_true",
                        help="don't log every request (benchmarks)")
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (and --keyfile)")
    parser.add_argument("--keyfile")
    args = parser.parse_args()
    if args.no_access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    context = None
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)
    app = create_app()
    servers = [make_server(args.host, port, app, threaded=True, ssl_context=context)
               for port in (args.port, args.backup_port) if port]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if context else "http"
    urls = ", ".join(f"{scheme}://{args.host}:{server.server_port}" for server in servers)
    print(f" * WeChat simulator on {urls}", flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
