"""WeChat's H5 cashier (wx.tenpay.com ``/cgi-bin/mmpayweb-bin/checkmweb``): where a phone's
browser lands with the ``h5_url`` (v3) / ``mweb_url`` (v2) of an MWEB order, served by the
simulator on its own host.

It checks what WeChat checks and shows WeChat's texts when a check fails (products doc §3.1,
copies of the official FAQ https://cnblogs.com/dragondean/p/10220804.html):

- the URL lives 5 minutes from the answer that gave it (支付请求已失效);
- opened inside WeChat (user agent MicroMessenger): 请在微信外打开订单;
- no Referer (the page opened directly, or an app's WebView that drops it): 商家参数格式有误;
- the Referer's host, or ``redirect_url``'s, outside the H5 domain configured on the merchant
  platform (``SANDBOX_H5_DOMAIN``: a host and its subdomains; unset: any): 商家存在未配置的参数;
- the browser's address is not the order's ``payer_client_ip`` (v2 ``spbill_create_ip``):
  网络环境未能通过安全验证.

Then the payer pays or cancels; either way the browser goes back to ``redirect_url`` (at once,
as WeChat may do before the payment is final: the merchant's page must not take the return
as paid).
"""

import time
from html import escape
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, redirect, request

from ..state import PAID_STATES

bp = Blueprint("h5_cashier", __name__)

PATH = "/cgi-bin/mmpayweb-bin/checkmweb"
H5_URL_LIFETIME = 5 * 60


def _state():
    return current_app.extensions["sandbox"]


def h5_url(order):
    """The URL an MWEB order's answer gives (v3 h5_url, v2 mweb_url), valid 5 minutes from now."""
    order["h5_url_expires_at"] = time.time() + H5_URL_LIFETIME
    query = urlencode({"prepay_id": order["prepay_id"], "package": order["prepay_id"][-10:]})
    return f"{request.host_url.rstrip('/')}{PATH}?{query}"


def _problem(order):
    """WeChat's text for why this browser cannot pay ``order`` here, or None."""
    now = time.time()
    if order is None or order.get("h5_url_expires_at", 0) < now:
        return "支付请求已失效，请重新发起支付"
    if "MicroMessenger" in (request.user_agent.string or ""):
        return "请在微信外打开订单"
    referer = request.headers.get("Referer")
    if not referer:
        return "商家参数格式有误，请联系商家解决"
    redirect_url = request.args.get("redirect_url")
    if not _in_h5_domain(referer) or (redirect_url and not _in_h5_domain(redirect_url)):
        return "商家存在未配置的参数，请联系商家解决"
    if request.remote_addr != _payer_ip(order):
        return "网络环境未能通过安全验证，请稍后再试"
    if order["trade_state"] in PAID_STATES:
        return "该订单已支付"
    if order["trade_state"] == "CLOSED" or order["expire_at"] < now:
        return "订单已关闭或已过期"
    return None


def _in_h5_domain(url):
    domain = (_state().settings.get("SANDBOX_H5_DOMAIN") or "").strip().lower()
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and (not domain or host == domain or host.endswith("." + domain))


def _payer_ip(order):
    if order["api_version"] == "v2":
        return order.get("spbill_create_ip")
    return (order.get("scene_info") or {}).get("payer_client_ip")


@bp.get(PATH)
def cashier_page():
    state = _state()
    with state.lock:
        order = state.order_by_prepay(request.args.get("prepay_id", ""))
        problem = _problem(order)
    if problem:
        return _page(f'<p class="problem" data-problem>{escape(problem)}</p>', 400)
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(request.args.get(name, ""))}">'
        for name in ("prepay_id", "redirect_url")
    )
    return _page(
        f"<p>{escape(order['description'])}</p>"
        f'<p class="amount">¥{order["amount"]["total"] / 100:.2f}</p>'
        f'<form method="post">{hidden}'
        '<button type="submit" name="action" value="pay" data-pay>确认支付</button> '
        '<button type="submit" name="action" value="cancel" data-cancel>取消</button></form>',
        200,
    )


@bp.post(PATH)
def cashier_pay():
    state = _state()
    redirect_url = request.form.get("redirect_url") or ""
    paid = False
    with state.lock:
        order = state.order_by_prepay(request.form.get("prepay_id", ""))
        if order is not None and order.get("h5_url_expires_at", 0) >= time.time():
            if request.form.get("action") == "pay" and order["trade_state"] == "NOTPAY":
                state.mark_paid(order)
                paid = True
    if paid:
        state.notify(order)
    if redirect_url and _in_h5_domain(redirect_url):
        return redirect(redirect_url, 302)
    return _page("<p data-paid>支付成功</p>" if paid else "<p>已取消</p>", 200)


def _page(body, status):
    html = (
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>微信支付（模拟）</title></head><body>"
        "<h1>微信支付（模拟器）</h1>" + body + "</body></html>"
    )
    return Response(html, status=status, mimetype="text/html")
