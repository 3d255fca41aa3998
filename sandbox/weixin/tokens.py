"""Access tokens: ``POST /cgi-bin/stable_token``, and the check every other call makes.

WeChat's side, as its pages and the behaviour developers report describe it: in the normal
mode the token in force is returned while it has more than 5 minutes left (then a new one, the
old one still valid until it expires); ``force_refresh`` invalidates the old token at once.
Calls are counted (``GET /sandbox/access-token``, in ``sandbox.control.weixin``). A call with
a token gets 41001 when it is missing, 40001 when it is invalid or replaced, 42001 when expired.
"""

import secrets
import time

from flask import Blueprint, current_app, request

from ..wire import json_response
from .errors import wechat_error

TOKEN_LIFETIME = 7200
RENEW_WINDOW = 300

bp = Blueprint("weixin_tokens", __name__)


def _state():
    return current_app.extensions["sandbox"]


def store(state):
    """The tokens' part of the simulator's state (cleared by /sandbox/reset)."""
    return state.weixin.setdefault("tokens", {"tokens": {}, "current": None, "calls": 0})


@bp.post("/cgi-bin/stable_token")
def stable_token():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return wechat_error(47001, "data format error")
    config, state = _state().config, _state()
    if body.get("grant_type") != "client_credential":
        return wechat_error(40002, "invalid grant_type")
    if body.get("appid") and body.get("appid") == state.settings.get("WECHAT_OA_APPID"):
        from . import oauth  # the official account's tokens are kept apart (oauth.py)

        return oauth.stable_token(body)
    if body.get("appid") != config.appid:
        return wechat_error(40013, "invalid appid")
    if not isinstance(body.get("secret"), str) or not secrets.compare_digest(
        body["secret"].encode(), config.secret.encode()
    ):
        return wechat_error(40125, "invalid appsecret")
    with state.lock:
        memory, now = store(state), time.time()
        memory["calls"] += 1
        current = memory["current"]
        if body.get("force_refresh") is True and current:
            memory["tokens"].pop(current, None)  # the old token stops working at once
            current = None
        if current is None or memory["tokens"].get(current, 0) - now <= RENEW_WINDOW:
            current = memory["current"] = mint(memory, now)
        return json_response(
            {"access_token": current, "expires_in": int(memory["tokens"][current] - now)}
        )


def mint(memory, now):
    token = "sandbox_" + secrets.token_urlsafe(48)
    memory["tokens"][token] = now + TOKEN_LIFETIME
    return token


def token_error():
    """None when the request's access_token is valid; else WeChat's error answer."""
    token = request.args.get("access_token")
    if not token:
        return wechat_error(41001, "access_token missing")
    with _state().lock:
        expires_at = store(_state())["tokens"].get(token)
    if expires_at is None:
        return wechat_error(40001, "invalid credential, access_token is invalid or not latest")
    if expires_at <= time.time():
        return wechat_error(42001, "access_token expired")
    return None
