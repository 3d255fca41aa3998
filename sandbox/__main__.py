"""``python -m sandbox --port 8001 [--backup-port 8002] [--host 127.0.0.1]``: serve the
simulator (dev/test only). With ``--backup-port`` the same simulator also answers on a second
port, standing in for WeChat's backup domain (api2.mch.weixin.qq.com): point
WECHATPAY_API_BASE_BACKUP at it, and fault either port with an api fault's "port"."""
import argparse
import threading

from werkzeug.serving import make_server

from . import create_app


def main():
    parser = argparse.ArgumentParser(description="Local WeChat login + WeChat Pay simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--backup-port", type=int, default=None,
                        help="also serve on this port, as WeChat's backup domain")
    args = parser.parse_args()
    app = create_app()
    # Threaded so that a slow notify_url or a "delay" fault never blocks other requests.
    servers = [make_server(args.host, port, app, threaded=True)
               for port in (args.port, args.backup_port) if port]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    urls = ", ".join(f"http://{args.host}:{server.server_port}" for server in servers)
    print(f" * WeChat simulator on {urls}", flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
