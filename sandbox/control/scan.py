"""``/sandbox/scan``: the user scans a Native ``code_url`` with WeChat and pays (see
``sandbox.control``). Not at WeChat: there the payer points WeChat's own 扫一扫 at the QR code.

The page shows what WeChat shows after a scan (the merchant's description and the amount) and a
pay button. A code_url stops working when its prepay expires (2 hours after it was issued: an
identical re-placement after that issues a new one) or at the order's time_expire, as at
WeChat (products doc §2.1, https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter7_3_10.shtml).
``POST /sandbox/scan`` with JSON ``{"code_url"}`` does the same for tests without a browser.
"""

import time
from html import escape

from flask import Blueprint, Response, current_app, request

from ..state import PAID_STATES
from ..wire import control_body, json_response

bp = Blueprint("control_scan", __name__, url_prefix="/sandbox")

CODE_URL_PREFIX = "weixin://wxpay/bizpayurl?pr="
SCANNER_OPENID = "oScanner0000000000000000001"  # the simulated payer who scans a code


def _state():
    return current_app.extensions["sandbox"]


def code_url_of(order):
    """The code_url the simulator answers for a Native order (v3 and v2 alike)."""
    return CODE_URL_PREFIX + order["prepay_id"][-10:]


def _scanned(code_url):
    """(order, None) for a payable code_url; (order or None, WeChat's words) otherwise."""
    state = _state()
    if not isinstance(code_url, str) or not code_url.startswith(CODE_URL_PREFIX):
        return None, "二维码无效"
    with state.lock:
        order = next(
            (
                o
                for o in state.orders.values()
                if o["trade_type"] == "NATIVE" and code_url_of(o) == code_url
            ),
            None,
        )
        if order is None:
            return None, "二维码已过期，请刷新页面后重新扫码"  # a renewed or unknown code
        now = time.time()
        if order["trade_state"] in PAID_STATES:
            return order, "该订单已支付"
        if order["trade_state"] == "CLOSED":
            return order, "订单已关闭"
        if order["prepay_expires_at"] < now or order["expire_at"] < now:
            return order, "二维码已过期，请刷新页面后重新扫码"
    return order, None


@bp.get("/scan")
def scan_page():
    order, problem = _scanned(request.args.get("code_url"))
    if problem:
        body = f'<p class="problem" data-problem>{escape(problem)}</p>'
    else:
        body = (
            f"<p>{escape(order['description'])}</p>"
            f'<p class="amount">¥{order["amount"]["total"] / 100:.2f}</p>'
            '<form method="post"><input type="hidden" name="code_url" value="'
            f'{escape(request.args["code_url"])}"><button type="submit" data-pay>立即支付</button>'
            "</form>"
        )
    return _page(body, 400 if problem else 200)


@bp.post("/scan")
def scan_and_pay():
    data = control_body() if request.is_json else request.form
    code_url = data.get("code_url")
    # Whoever scans pays: their openid under the order's appid (a test may name it).
    openid = data.get("openid") if isinstance(data.get("openid"), str) else None
    state = _state()
    with state.lock:  # checked and paid at once: two scans pay once
        order, problem = _scanned(code_url)
        if not problem:
            order["payer"] = {"openid": openid or SCANNER_OPENID}
            state.mark_paid(order)
    if problem:
        if request.is_json:
            return json_response({"error": {"code": "CODE_URL_INVALID", "message": problem}}, 400)
        return _page(f'<p class="problem" data-problem>{escape(problem)}</p>', 400)
    event_id = state.notify(order)
    if request.is_json:
        return json_response(
            {
                "out_trade_no": order["out_trade_no"],
                "trade_state": "SUCCESS",
                "transaction_id": order["transaction_id"],
                "event_id": event_id,
            }
        )
    return _page('<p class="paid" data-paid>支付成功</p>', 200)


def _page(body, status):
    html = (
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>微信支付（模拟）</title></head><body>"
        "<h1>微信支付（模拟器）</h1>" + body + "</body></html>"
    )
    return Response(html, status=status, mimetype="text/html")
