"""What the backend believes about the client: its address and the host it asked for.

Behind ``TRUSTED_PROXY_COUNT`` proxies, werkzeug's ProxyFix takes the client address from
``X-Forwarded-For``. That header is text the proxy passed on, so it is checked here: anything
that is not one IP address of sane length falls back to the socket's address (the proxy's).
The address is stored with the order and sent to WeChat as the payer's IP, so it must be real.
"""

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

MAX_ADDRESS_CHARS = 45  # the longest IPv6 text form; the orders.client_ip column


def register(app):
    count = int(app.config["TRUSTED_PROXY_COUNT"])
    if count:
        app.wsgi_app = ProxyFix(
            CheckedRemoteAddr(app.wsgi_app), x_for=count, x_proto=count, x_host=count
        )
    # Requests for any other Host (or X-Forwarded-Host) get a 400, so no redirect or URL the
    # app builds can point somewhere else. Empty (development): any host.
    hosts = [h.strip() for h in app.config["TRUSTED_HOSTS"].split(",") if h.strip()]
    app.config["TRUSTED_HOSTS"] = hosts or None


def valid_address(value):
    """The normalised text of one IP address, or None (names, lists, zones, over-long text)."""
    if not value or len(value) > MAX_ADDRESS_CHARS or "%" in value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class CheckedRemoteAddr:
    """WSGI middleware run after ProxyFix: REMOTE_ADDR is a valid address, or the socket's."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        address = valid_address(environ.get("REMOTE_ADDR"))
        if address is None:
            original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
            address = valid_address(original) or "127.0.0.1"
        environ["REMOTE_ADDR"] = address
        return self.app(environ, start_response)
