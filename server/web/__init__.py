"""The shop on the web: server-rendered pages under /shop/ for people outside the mini program
(docs/web-shop.md).

The same catalogue, order book and checkout as the mini program (``server/domain/checkout``),
on other channels: Native (a QR code) on a desktop, H5 in a phone's browser, the official
account's JSAPI inside WeChat (``wechat.py``: web authorisation, getBrandWCPayRequest).
Outside WeChat a visitor is a guest: their cart and the orders they placed live in the
signed, HttpOnly session cookie, so "my orders" are this
browser's. Every POST carries a CSRF token. Pages are Chinese by default and English on a
switch, with the console's Flask-Babel setup (``server/console/i18n.py``).
"""

from flask import Blueprint

PREFIX = "/shop"

bp = Blueprint(
    "web", __name__, url_prefix=PREFIX, template_folder="templates", static_folder="static"
)


def init_app(app):
    from . import views, wechat  # noqa: F401  (the routes)

    app.register_blueprint(bp)
