"""Fill nginx/wxpay.conf.template with this deployment's domain, certificate and upstream.

On a server (prints the site file that goes inside nginx's http {} block):

    python deploy/render_nginx.py --domain api.example.com \\
        --cert /etc/letsencrypt/live/api.example.com/fullchain.pem \\
        --key /etc/letsencrypt/live/api.example.com/privkey.pem \\
        --upstream unix:/run/wxpay/gunicorn.sock --media-dir /var/lib/wxpay/media \\
        > /etc/nginx/sites-available/wxpay.conf

``--upstream`` once per app server when several share the database and Redis
(``--upstream 10.0.0.11:8000 --upstream 10.0.0.12:8000``; docs/performance.md#scale-out).

For tests and non-root trial runs, ``--standalone DIR`` prints a complete nginx.conf that keeps
its pid, logs and temporary files under DIR, to be run with
``nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'``. Standard library only.
"""

import argparse
import getpass
import os
import re
import sys
from pathlib import Path

NGINX_DIR = Path(__file__).resolve().parent.parent / "nginx"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# What one name may look like: letters, digits, dots and dashes (IDNs in punycode).
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


def fill(template, values):
    """Replace every {{name}}; a name without a value is an error, not an empty string."""

    def value(match):
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template placeholder {{{{{name}}}}} has no value")
        return str(values[name])

    return PLACEHOLDER.sub(value, template)


def listen_lines(addresses, parameters):
    return "\n".join(f"    listen {' '.join([address, *parameters])};" for address in addresses)


def port_of(address):
    """'443' -> 443, '127.0.0.1:8443' -> 8443, '[::]:443' -> 443."""
    return int(address.rsplit(":", 1)[-1].rsplit("]", 1)[-1])


def render_site(
    domain,
    cert,
    key,
    upstreams,
    listen_https,
    listen_http,
    acme_root,
    login_rate,
    access_log="/var/log/nginx/wxpay.access.log",
    media_dir="/var/lib/wxpay/media",
):
    https_port = port_of(listen_https[0])
    tls_params = "\n".join(
        f"    {line}" if line else ""
        for line in (NGINX_DIR / "tls-params.conf").read_text().splitlines()
    )
    return fill(
        (NGINX_DIR / "wxpay.conf.template").read_text(),
        {
            "domain": domain,
            "cert": cert,
            "key": key,
            "upstream_servers": "\n".join(f"    server {address};" for address in upstreams),
            "acme_root": acme_root,
            "login_rate": login_rate,
            "access_log": access_log,
            "media_dir": str(media_dir).rstrip("/"),
            "tls_params": tls_params,
            "https_listen": listen_lines(listen_https, ["ssl", "http2"]),
            "https_listen_default": listen_lines(listen_https, ["ssl", "http2", "default_server"]),
            "http_listen": listen_lines(listen_http, []),
            "http_listen_default": listen_lines(listen_http, ["default_server"]),
            "https_port_suffix": "" if https_port == 443 else f":{https_port}",
        },
    )


def render_standalone(prefix, site):
    prefix = Path(prefix).resolve()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    # A master started as root runs its workers as "nobody", which cannot enter a private
    # temporary directory; keep them as the current user instead.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    return fill(
        (NGINX_DIR / "nginx.conf.template").read_text(),
        {"prefix": prefix, "user": user, "site": site},
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True, help="the API domain, e.g. api.example.com")
    parser.add_argument("--cert", required=True, help="certificate chain PEM (fullchain.pem)")
    parser.add_argument("--key", required=True, help="the certificate's private key PEM")
    parser.add_argument(
        "--upstream",
        action="append",
        metavar="ADDRESS",
        help="gunicorn's address: unix:/path.sock or 127.0.0.1:8000; repeatable, once per app "
        "server (default unix:/run/wxpay/gunicorn.sock)",
    )
    parser.add_argument(
        "--listen-https",
        action="append",
        metavar="ADDRESS",
        help="repeatable; default 443 and [::]:443",
    )
    parser.add_argument(
        "--listen-http",
        action="append",
        metavar="ADDRESS",
        help="repeatable; default 80 and [::]:80",
    )
    parser.add_argument(
        "--acme-root",
        default="/var/www/letsencrypt",
        help="certbot --webroot directory (default %(default)s)",
    )
    parser.add_argument(
        "--login-rate",
        default="60r/m",
        help="per-address rate for /api/login, burst 20 (default %(default)s)",
    )
    parser.add_argument(
        "--access-log",
        default="/var/log/nginx/wxpay.access.log",
        help="the site's access log, without query strings (default "
        "%(default)s; DIR/access.log with --standalone)",
    )
    parser.add_argument(
        "--media-dir",
        default="/var/lib/wxpay/media",
        help="the backend's MEDIA_DIR: product images, served here at /media/ (default "
        "%(default)s)",
    )
    parser.add_argument(
        "--standalone",
        metavar="DIR",
        help="print a complete nginx.conf with pid, logs and temp files in DIR",
    )
    args = parser.parse_args(argv)
    if not DOMAIN.match(args.domain):
        parser.error(f"--domain {args.domain!r} is not a host name")
    if not re.fullmatch(r"\d+r/[sm]", args.login_rate):
        parser.error("--login-rate looks like 60r/m or 2r/s")
    for name in ("cert", "key", "media_dir"):
        if not Path(getattr(args, name)).is_absolute():
            parser.error(
                f"--{name.replace('_', '-')} must be an absolute path (nginx resolves "
                "relative paths against its own prefix, not the current directory)"
            )
    args.upstream = args.upstream or ["unix:/run/wxpay/gunicorn.sock"]
    args.listen_https = args.listen_https or ["443", "[::]:443"]
    args.listen_http = args.listen_http or ["80", "[::]:80"]
    return args


def main(argv=None):
    args = parse_args(argv)
    access_log = (
        str(Path(args.standalone).resolve() / "access.log") if args.standalone else args.access_log
    )
    site = render_site(
        args.domain,
        args.cert,
        args.key,
        args.upstream,
        args.listen_https,
        args.listen_http,
        args.acme_root,
        args.login_rate,
        access_log,
        args.media_dir,
    )
    sys.stdout.write(render_standalone(args.standalone, site) if args.standalone else site)


if __name__ == "__main__":
    main()
