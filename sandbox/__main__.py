"""``python -m sandbox --port 8001 [--backup-port 8002] [--host 127.0.0.1]``: serve the
simulator (dev/test only). With ``--backup-port`` the same simulator also answers on a second
port, standing in for WeChat's backup domain (api2.mch.weixin.qq.com): point
WECHATPAY_API_BASE_BACKUP at it, and fault either port with an api fault's "port".

With ``--tls-cert`` and ``--tls-key`` it serves HTTPS, as WeChat does, and ``/secapi/`` paths
require the merchant's API certificate as the TLS client certificate (see ``sandbox.tls``).
"""
import argparse
import threading

from werkzeug.serving import make_server

from . import create_app
from .tls import server_context


def main():
    parser = argparse.ArgumentParser(description="Local WeChat login + WeChat Pay simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--backup-port", type=int, default=None,
                        help="also serve on this port, as WeChat's backup domain")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the key of --tls-cert (PEM)")
    parser.add_argument("--client-ca", help="CA file that issued merchant client certificates "
                                            "(default: WECHATPAY_CERT, self-signed in dev)")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    app = create_app()
    context = None
    if args.tls_cert:
        client_ca = args.client_ca or app.extensions["sandbox"].settings["WECHATPAY_CERT"]
        context = server_context(args.tls_cert, args.tls_key, client_ca)
    # Threaded so that a slow notify_url or a "delay" fault never blocks other requests.
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
