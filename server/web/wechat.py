"""The web shop inside WeChat: the official account's web authorisation and JSAPI payment
(docs/web-shop.md, products doc §1).

A page opened in WeChat's browser (user agent ``MicroMessenger``) with no openid in the session
goes first through web authorisation with ``snsapi_base`` (silent): ``state`` is a random
token of letters and digits kept in the session and compared on return (WeChat allows a-zA-Z0-9,
at most 128 bytes), the page to come back to stays server-side, and the code is exchanged
here, server to server. The openid is the official account's: the user of (its appid, openid),
one customer with the mini program's user when WeChat gives a unionid
(``server/domain/customers.py``). Orders placed then are JSAPI on the official account's
channel; the page pays with ``WeixinJSBridge.invoke('getBrandWCPayRequest')`` and, whatever
the bridge answers, asks its own backend for the order's state.
"""

import secrets

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..domain import customers, jsapi_tickets
from ..extensions import db
from ..models import User
from ..wechat.official_account import OfficialAccountApi, authorize_url
from ..wechatpay.core.errors import ApiError, TransportError
from . import bp

USER, OAUTH = "shop_user", "shop_oauth"
STATE_BYTES = 16  # 32 hex characters: within WeChat's a-zA-Z0-9 and 128 bytes


def in_wechat():
    return "MicroMessenger" in (request.user_agent.string or "")


def configured():
    return bool(current_app.config.get("WECHAT_OA_APPID"))


def api():
    """The official account's API client, built once per app."""
    found = current_app.extensions.get("official_account")
    if found is None:
        config = current_app.config
        found = current_app.extensions["official_account"] = OfficialAccountApi(
            appid=config["WECHAT_OA_APPID"],
            secret=config.get("WECHAT_OA_SECRET") or "",
            api_base=config["WECHAT_API_BASE"],
            timeout=float(config["WECHAT_HTTP_TIMEOUT_SECONDS"]),
        )
    return found


def signed_in_user():
    user_id = session.get(USER)
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    return (
        user if user is not None and user.appid == current_app.config["WECHAT_OA_APPID"] else None
    )


@bp.before_request
def _authorise_inside_wechat():
    """Inside WeChat, every page starts with the user's openid (a silent authorisation)."""
    if request.method != "GET" or not in_wechat() or not configured():
        return None
    if request.endpoint in ("web.static", "web.oauth_return", "web.order_status"):
        return None
    if signed_in_user() is not None:
        return None
    state = secrets.token_hex(STATE_BYTES)
    session[OAUTH] = {"state": state, "next": request.path}
    back = url_for("web.oauth_return", _external=True)
    return redirect(authorize_url(current_app.config["WECHAT_OPEN_BASE"], api().appid, back, state))


@bp.get("/oauth")
def oauth_return():
    """WeChat's return from web authorisation: ``code`` and ``state``, or ``state`` alone when
    the user refused. Anything unexpected is a page that says so; nothing is created."""
    pending = session.pop(OAUTH, None)
    state = request.args.get("state", "")
    if not isinstance(pending, dict) or not secrets.compare_digest(
        str(pending.get("state", "")).encode(), state.encode()
    ):
        return _refusal(_("This sign-in link is not valid any more. Open the shop again."), 400)
    code = request.args.get("code")
    if not code:
        return _refusal(
            _("You did not allow the shop to know you, so it cannot take an order."), 403
        )
    try:
        answer = api().exchange_code(code)
    except (ApiError, TransportError):
        return _refusal(_("WeChat could not sign you in. Open the shop again."), 502)
    if answer.get("is_snapshotuser") == 1:
        # A snapshot page's openid is a virtual one and JS-SDK is off there: no order.
        return _refusal(
            _(
                "You are looking at a preview of this page. Tap “use full service” "
                "(使用完整服务) at the bottom to open the shop and pay."
            ),
            403,
        )
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid:
        return _refusal(_("WeChat could not sign you in. Open the shop again."), 502)
    unionid = answer.get("unionid") if isinstance(answer.get("unionid"), str) else None
    user = customers.sign_in(api().appid, openid, unionid=unionid)
    session[USER] = user.id
    target = pending.get("next") or ""
    return redirect(target if target.startswith(bp.url_prefix + "/") else url_for("web.products"))


def pay_params(order, checkout_pay):
    """``getBrandWCPayRequest``'s parameters: checkout's (signed for the appid the order is
    paid in, v3 RSA or v2 with the order's sign type) with the appId they were signed for: a
    service provider's store's own official account (its sub_appid) when the order has one."""
    return {"appId": order.sub_appid or order.appid, **checkout_pay}


def page_extras(order):
    """What an order page in WeChat needs: the dev bridge's script, and wx.config's signed
    parameters for this page (the JS-SDK; the bridge itself needs none)."""
    if not in_wechat() or order.trade_type != "JSAPI" or not configured():
        return {}
    extras = {"bridge_url": bridge_script_url()}
    try:
        extras["wx_config"] = jsapi_tickets.wx_config(api(), request.url)
    except (ApiError, TransportError):
        extras["wx_config"] = None  # paying needs no JS-SDK; the page still works
    return extras


def bridge_script_url():
    """The simulator's stand-in for WeChat's browser, in development only."""
    base = current_app.config.get("WECHAT_API_BASE") or ""
    if current_app.config["APP_ENV"] == "production" or "weixin.qq.com" in base:
        return None
    return f"{base}/sandbox/weixin-bridge.js"


def _refusal(message, status):
    return render_template("web/error.html", message=message), status
