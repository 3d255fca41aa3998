"""A stand-in for WeChat's browser, for development only: ``/sandbox/weixin-bridge.js`` defines
``WeixinJSBridge`` (``getBrandWCPayRequest``) and ``wx.config`` / ``wx.chooseWXPay``, as WeChat's
client does inside an official account's page. The web shop includes it outside production
(``server/web/wechat.py``); a real WeChat never loads it.

Like WeChat's client, it checks before showing the cashier (products doc §1.3-1.5):

- the page is under a payment authorisation directory (``SANDBOX_PAY_DIRECTORIES``: URL
  prefixes ending in ``/``, comma-separated; unset: any), matching the page's scheme, host
  and directory, case-sensitive: else 当前页面的URL未注册;
- ``paySign`` over appId, timeStamp, nonceStr, package (v3 RSA with the merchant's key; v2
  MD5/HMAC-SHA256 with the API key and the signType given): else 支付验证签名失败;
- ``wx.config``'s signature: SHA-1 over a jsapi_ticket the simulator issued, the nonceStr,
  the timestamp and the page URL without its fragment: else ``invalid signature``.

Then a sheet over the page plays WeChat's cashier (确认支付 / 取消); paying marks the order paid
and sends the notification, and the callback gets ``get_brand_wcpay_request:ok``, ``:cancel``
or ``:fail``, which the page must treat as hints only.
"""

import hashlib
import json
import secrets
import time
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from ..pay.v3.partner import paying_appid
from ..state import PAID_STATES
from ..weixin import oauth
from ..wire import json_response
from .cashier import pay_sign_failure

bp = Blueprint("control_bridge", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


def _cors(response):
    # The page is the shop's, on another origin; its fetches send text/plain (no preflight).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _body():
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def directory_failure(url):
    """当前页面的URL未注册 unless the page's directory is under a configured one."""
    configured = [
        d.strip()
        for d in (_state().settings.get("SANDBOX_PAY_DIRECTORIES") or "").split(",")
        if d.strip()
    ]
    parts = urlsplit(url or "")
    directory = f"{parts.scheme}://{parts.netloc}{parts.path[: parts.path.rfind('/') + 1]}"
    if not configured or any(directory.startswith(d) for d in configured):
        return None
    return f"当前页面的URL未注册：{directory}"


def _check(data):
    """(order, None) when WeChat's client would open the cashier; (None, why) otherwise."""
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    state = _state()
    problem = directory_failure(data.get("url"))
    if problem:
        return None, problem
    appid = params.get("appId")
    if not isinstance(appid, str) or appid not in state.appids():
        return None, "appId 参数错误"
    problem = pay_sign_failure(state, params, appid=appid)
    if problem:
        return None, problem
    order = state.order_by_prepay(params["package"].removeprefix("prepay_id="))
    if order is None or order["prepay_expires_at"] < time.time():
        return None, "prepay_id 已失效"
    if paying_appid(order) != appid:  # a provider's order: the appid its payer is under
        return None, "appid和openid不匹配"
    if order["trade_state"] in PAID_STATES:
        return None, "该订单已支付"
    if order["trade_state"] == "CLOSED" or order["expire_at"] < time.time():
        return None, "订单已关闭"
    return order, None


@bp.post("/bridge/check")
def check():
    order, problem = _check(_body())
    if problem:
        return _cors(json_response({"problem": problem}))
    return _cors(
        json_response({"description": order["description"], "total": order["amount"]["total"]})
    )


@bp.post("/bridge/pay")
def pay():
    state = _state()
    with state.lock:
        order, problem = _check(_body())
        if not problem:
            state.mark_paid(order)
    if problem:
        return _cors(json_response({"ok": False, "problem": problem}))
    state.notify(order)
    return _cors(json_response({"ok": True}))


@bp.post("/bridge/config")
def config():
    data = _body()
    given = data.get("config") if isinstance(data.get("config"), dict) else {}
    url = str(data.get("url") or "").split("#", 1)[0]
    with _state().lock:
        tickets = [t for t, at in oauth.store(_state())["tickets"].items() if at > time.time()]
    for ticket in tickets:
        text = (
            f"jsapi_ticket={ticket}&noncestr={given.get('nonceStr')}"
            f"&timestamp={given.get('timestamp')}&url={url}"
        )
        if secrets.compare_digest(
            hashlib.sha1(text.encode()).hexdigest(), str(given.get("signature") or "")
        ):
            return _cors(json_response({"ok": True}))
    return _cors(json_response({"ok": False, "errMsg": "config:invalid signature"}))


@bp.get("/weixin-bridge.js")
def script():
    return Response(BRIDGE_JS, mimetype="application/javascript")


BRIDGE_JS = r"""// The simulator's stand-in for WeChat's browser (sandbox/control/bridge.py).
(function () {
  var base = new URL(document.currentScript.src).origin;
  function post(path, body) {
    return fetch(base + path, { method: "POST", headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(body) }).then(function (r) { return r.json(); });
  }
  function sheet(html) {
    var old = document.getElementById("wx-sheet");
    if (old) old.remove();
    var div = document.createElement("div");
    div.id = "wx-sheet";
    div.setAttribute("style", "position:fixed;left:0;right:0;bottom:0;background:#fff;" +
      "padding:1.5rem;box-shadow:0 -4px 20px rgba(0,0,0,.2);font-size:1.1rem;z-index:9999");
    div.innerHTML = html;
    document.body.appendChild(div);
    return div;
  }
  function text(s) { var d = document.createElement("div"); d.textContent = s; return d.innerHTML; }
  window.WeixinJSBridge = {
    invoke: function (name, params, callback) {
      var done = function (outcome) {
        var s = document.getElementById("wx-sheet");
        if (s) s.remove();
        callback({ err_msg: "get_brand_wcpay_request:" + outcome });
      };
      if (name !== "getBrandWCPayRequest") { callback({ err_msg: name + ":fail" }); return; }
      var request = { params: params, url: location.href };
      post("/sandbox/bridge/check", request).then(function (answer) {
        if (answer.problem) {
          var failed = sheet("<p data-wx-problem>" + text(answer.problem) + "</p>" +
            "<button data-wx-ok>确定</button>");
          failed.querySelector("[data-wx-ok]").onclick = function () { done("fail"); };
          return;
        }
        var s = sheet("<p>" + text(answer.description) + "</p><p data-wx-amount>¥" +
          (answer.total / 100).toFixed(2) + "</p><button data-wx-pay>确认支付</button> " +
          "<button data-wx-cancel>取消</button>");
        s.querySelector("[data-wx-cancel]").onclick = function () { done("cancel"); };
        s.querySelector("[data-wx-pay]").onclick = function () {
          post("/sandbox/bridge/pay", request).then(function (paid) {
            done(paid.ok ? "ok" : "fail");
          });
        };
      });
    }
  };
  var ready = [], failed = [], configured = null;
  window.wx = {
    config: function (options) {
      window.wx._appId = options.appId;
      post("/sandbox/bridge/config", { config: options, url: location.href }).then(function (a) {
        configured = a;
        document.documentElement.dataset.wxConfig = a.ok ? "ok" : "invalid signature";
        (a.ok ? ready : failed).forEach(function (f) { f(a); });
      });
    },
    ready: function (f) { if (configured && configured.ok) f(); else ready.push(f); },
    error: function (f) { if (configured && !configured.ok) f(configured); else failed.push(f); },
    chooseWXPay: function (o) {
      WeixinJSBridge.invoke("getBrandWCPayRequest", { appId: window.wx._appId,
        timeStamp: String(o.timestamp), nonceStr: o.nonceStr, package: o.package,
        signType: o.signType, paySign: o.paySign }, function (res) {
        var outcome = res.err_msg.split(":")[1];
        if (outcome === "ok" && o.success) o.success(res);
        else if (outcome === "cancel" && o.cancel) o.cancel(res);
        else if (o.fail) o.fail(res);
      });
    }
  };
  document.dispatchEvent(new Event("WeixinJSBridgeReady"));
})();
"""
