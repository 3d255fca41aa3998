"""Mini-program login: ``jscode2session`` (docs/protocol.md A1).

``POST /sandbox/login-code`` (``sandbox.control.weixin``) plays ``wx.login`` on the phone and
mints a code; the backend redeems it at ``GET /sns/jscode2session`` exactly as it would at
api.weixin.qq.com.
"""

import base64
import secrets
import time

from flask import Blueprint, current_app, request

from ..wire import json_response
from .errors import wechat_error

CODE_LIFETIME = 300  # a js_code expires after about 5 minutes

bp = Blueprint("weixin_login", __name__)


def _state():
    return current_app.extensions["sandbox"]


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
