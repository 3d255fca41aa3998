"""Mini-program login: ``wx.login`` codes and ``jscode2session`` (protocol A1).

``POST /sandbox/login-code`` plays ``wx.login`` on the phone and mints a code; the backend
redeems it at ``GET /sns/jscode2session`` exactly as it would at api.weixin.qq.com.
"""

import base64
import secrets
import string
import time

from flask import Blueprint, current_app, request

from server.wechatpay.crypto import nonce

from .wire import control_body, control_error, json_response

bp = Blueprint("login", __name__)

CODE_LIFETIME = 300  # a js_code expires after about 5 minutes
_OPENID_CHARS = string.ascii_letters + string.digits + "-_"


def _state():
    return current_app.extensions["sandbox"]


def wechat_error(errcode, errmsg):
    """WeChat's login errors: HTTP 200, errcode/errmsg, and a trace id in the message."""
    rid = "-".join(secrets.token_hex(4) for _ in range(3))
    return json_response({"errcode": errcode, "errmsg": f"{errmsg}, rid: {rid}"})


def fault_answer(fault):
    """An armed API fault's answer on a /sns path: ``{"errcode", "errmsg"}``, errcode the
    fault's numeric "code" (else -1), with the fault's HTTP status (give 200, as WeChat)."""
    code = str(fault.get("code") or "SYSTEM_ERROR")
    response = wechat_error(
        int(code) if code.lstrip("-").isdigit() else -1, fault.get("message") or "系统错误"
    )
    response.status_code = fault["status"]
    return response


@bp.post("/sandbox/login-code")
def mint_code():
    """``{"openid"?, "expires_in"? (seconds), "blocked"? (true gives 40226)}``
    -> ``{"code", "openid"}``; the openid is made up when not given."""
    data = control_body()
    openid = data.get("openid") or "o" + "".join(secrets.choice(_OPENID_CHARS) for _ in range(27))
    expires_in = data.get("expires_in", CODE_LIFETIME)
    if not isinstance(openid, str) or not isinstance(expires_in, (int, float)):
        return control_error(400, "INVALID_REQUEST", "openid must be a string, expires_in a number")
    code = nonce(32)
    state = _state()
    with state.lock:
        state.codes[code] = {
            "openid": openid,
            "expires_at": time.time() + expires_in,
            "used": False,
            "blocked": bool(data.get("blocked")),
        }
    return json_response({"code": code, "openid": openid})


@bp.get("/sns/jscode2session")
def jscode2session():
    state, config, args = _state(), _state().config, request.args
    if not args.get("appid"):
        return wechat_error(41002, "appid missing")
    if not args.get("secret"):
        return wechat_error(41004, "appsecret missing")
    if not args.get("js_code"):
        return wechat_error(41008, "missing code")
    if args["appid"] != config.appid:
        return wechat_error(40013, "invalid appid")
    if not secrets.compare_digest(args["secret"].encode(), config.secret.encode()):
        return wechat_error(40125, "invalid appsecret")
    if args.get("grant_type") != "authorization_code":
        return wechat_error(40002, "invalid grant_type")

    with state.lock:
        entry = state.codes.get(args["js_code"])
        if entry is None or entry["expires_at"] < time.time():
            return wechat_error(40029, "invalid code")
        if entry["used"]:
            return wechat_error(40163, "code been used")
        entry["used"] = True
        if entry["blocked"]:
            return wechat_error(40226, "code blocked")
        openid, now = entry["openid"], time.time()
        recent = [t for t in state.login_calls.get(openid, []) if t > now - 60]
        state.login_calls[openid] = recent + [now]
        if len(recent) >= config.login_rate_limit:
            return wechat_error(45011, "api minute-quota reach limit mustslower retry next minute")
        # session_key: base64 of 16 random bytes, stable per openid like a live session.
        session_key = state.session_keys.setdefault(
            openid, base64.b64encode(secrets.token_bytes(16)).decode()
        )
    return json_response({"openid": openid, "session_key": session_key})
