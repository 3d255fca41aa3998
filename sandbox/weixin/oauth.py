"""The official account's web authorisation and JS-SDK ticket (products doc §1.2, §1.3):

- ``GET /connect/oauth2/authorize`` (open.weixin.qq.com): checks appid, ``redirect_uri`` within
  the web-authorisation domain (``SANDBOX_OAUTH_DOMAIN``, a host; unset: any) -> 10003, scope,
  ``state`` (a-zA-Z0-9, at most 128 bytes); then a page whose script checks the
  ``#wechat_redirect`` fragment (a browser never sends a fragment: WeChat's client checks it)
  and consents, or refuses when the switch says so, redirecting to ``redirect_uri`` with
  ``code`` and ``state`` (only ``state`` when refused); the consent's POST checks
  ``redirect_uri`` and ``state`` again (no open redirect through an edited form);
- ``GET /sns/oauth2/access_token``: a code works once (40163) and for 5 minutes (40029), for the
  appid and secret it was issued to; answers the openid (and ``is_snapshotuser`` 1 when the
  switch says the user is on a snapshot page, ``unionid`` when one is set);
- the same exchange for a native app's appid (``WECHAT_APP_APPID``, secret
  ``WECHAT_APP_SECRET``): the open platform's mobile-app login, whose code the WeChat SDK gives
  the app (``SendAuth``, scope ``snsapi_userinfo``; a code lives 10 minutes); the answer names
  the openid under the app's appid and the unionid of the open-platform account;
- ``POST /cgi-bin/stable_token`` for the official account's appid is ``tokens.py``'s; this
  module keeps the official account's tokens apart (``GET /cgi-bin/ticket/getticket`` checks
  them) and answers a ``jsapi_ticket`` valid 7200 s, counting the calls.

Controls: ``POST /sandbox/oauth`` ``{"refuse", "snapshot", "openid", "unionid"}`` sets what the
next authorisations do; ``POST /sandbox/app-login-code`` ``{"openid"?, "unionid"?}`` is what
the WeChat SDK hands a native app after the user agrees (``{"code", "openid", "unionid"}``);
``GET /sandbox/jsapi-ticket`` the call count and current ticket;
``POST /sandbox/jsapi-ticket/expire`` makes it expire now.
"""

import re
import secrets
import time
from html import escape
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, request

from ..wire import control_body, control_error, json_response
from .errors import wechat_error

bp = Blueprint("weixin_oauth", __name__)

CODE_LIFETIME = 5 * 60
APP_CODE_LIFETIME = 10 * 60  # the mobile app's (the open platform's development guide)
TICKET_LIFETIME = 7200
TOKEN_LIFETIME = 7200
STATE = re.compile(r"[A-Za-z0-9]{0,128}")
SCOPES = ("snsapi_base", "snsapi_userinfo")


def _state():
    return current_app.extensions["sandbox"]


def store(state):
    """This module's part of the simulator's state (cleared by /sandbox/reset)."""
    return state.weixin.setdefault(
        "oauth",
        {
            # code -> {"appid", "scope", "openid", "unionid", "snapshot", "expires_at", "used"}
            "codes": {},
            "switch": {"refuse": False, "snapshot": False, "openid": None, "unionid": None},
            "tokens": {},  # the official account's access tokens -> expires_at
            "current_token": None,
            "tickets": {},  # ticket -> expires_at
            "current_ticket": None,
            "ticket_calls": 0,
        },
    )


def oa_appid():
    return _state().settings.get("WECHAT_OA_APPID")


def oa_secret_ok(secret):
    return _secret_ok("WECHAT_OA_SECRET", secret)


def _secret_ok(name, secret):
    expected = _state().settings.get(name) or ""
    return (
        bool(expected)
        and isinstance(secret, str)
        and secrets.compare_digest(secret.encode(), expected.encode())
    )


def _secret_names():
    """The appids whose codes /sns/oauth2/access_token exchanges, and their secrets' names:
    the official account's (web authorisation) and a native app's (mobile-app login)."""
    settings = _state().settings
    names = {
        settings.get("WECHAT_OA_APPID"): "WECHAT_OA_SECRET",
        settings.get("WECHAT_APP_APPID"): "WECHAT_APP_SECRET",
    }
    return {appid: name for appid, name in names.items() if appid}


def _page(body, status=200):
    html = (
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>微信授权（模拟）</title></head><body>" + body + "</body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


@bp.get("/connect/oauth2/authorize")
def authorize():
    args = request.args
    appid, redirect_uri = args.get("appid", ""), args.get("redirect_uri", "")
    scope, state_param = args.get("scope", ""), args.get("state", "")
    if not appid or appid != oa_appid():
        return _page('<p data-error="10016">appid 错误 (10016)</p>', 400)
    refused = _refusal(redirect_uri, state_param)
    if refused is not None:
        return refused
    if args.get("response_type") != "code" or scope not in SCOPES:
        return _page('<p data-error="10005">此公众号并没有这些 scope 的权限 (10005)</p>', 400)
    switch = store(_state())["switch"]
    decision = "refuse" if switch["refuse"] else "allow"
    fields = "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in (
            ("redirect_uri", redirect_uri),
            ("state", state_param),
            ("decision", decision),
        )
    )
    # WeChat's client refuses a link without #wechat_redirect; only a script can see it.
    return _page(
        f'<form method="post" id="authorize">{fields}</form>'
        '<p data-error="fragment" hidden>请在链接末尾加上 #wechat_redirect</p>'
        "<script>if (location.hash === '#wechat_redirect') "
        "document.getElementById('authorize').submit(); else "
        "document.querySelector('[data-error=fragment]').hidden = false;</script>"
    )


def _refusal(redirect_uri, state_param):
    """The error page for a redirect_uri outside the web authorisation domain
    (SANDBOX_OAUTH_DOMAIN; unset: any host) or a malformed state; None when both are fine."""
    domain = (_state().settings.get("SANDBOX_OAUTH_DOMAIN") or "").lower()
    host = (urlsplit(redirect_uri).hostname or "").lower()
    if not host or (domain and host != domain):
        return _page('<p data-error="10003">redirect_uri 域名与后台配置不一致 (10003)</p>', 400)
    if not STATE.fullmatch(state_param) or len(state_param.encode()) > 128:
        return _page('<p data-error="state">state 参数错误（a-zA-Z0-9，最多 128 字节）</p>', 400)
    return None


@bp.post("/connect/oauth2/authorize")
def decide():
    """The user's answer, posted by the authorisation page. The form is the browser's: its
    redirect_uri and state are checked again (else the simulator would redirect anywhere)."""
    form, state = request.form, _state()
    redirect_uri, state_param = form.get("redirect_uri", ""), form.get("state", "")
    refused = _refusal(redirect_uri, state_param)
    if refused is not None:
        return refused
    query = {"state": state_param}
    if form.get("decision") == "allow":
        with state.lock:
            memory = store(state)
            switch = memory["switch"]
            code = secrets.token_urlsafe(24)
            memory["codes"][code] = {
                "appid": oa_appid(),
                "scope": "snsapi_base",
                "openid": switch["openid"] or "oOA" + secrets.token_hex(12),
                "unionid": switch["unionid"],
                "snapshot": switch["snapshot"],
                "expires_at": time.time() + CODE_LIFETIME,
                "used": False,
            }
        query = {"code": code, **query}
    separator = "&" if "?" in redirect_uri else "?"
    return Response(status=302, headers={"Location": redirect_uri + separator + urlencode(query)})


@bp.get("/sns/oauth2/access_token")
def exchange():
    args, state = request.args, _state()
    appid = args.get("appid") or ""
    secret_name = _secret_names().get(appid)
    if secret_name is None:
        return wechat_error(40013, "invalid appid")
    if not _secret_ok(secret_name, args.get("secret")):
        return wechat_error(40125, "invalid appsecret")
    if args.get("grant_type") != "authorization_code":
        return wechat_error(40002, "invalid grant_type")
    with state.lock:
        found = store(state)["codes"].get(args.get("code", ""))
        if found is None or found["appid"] != appid or found["expires_at"] < time.time():
            return wechat_error(40029, "invalid code")
        if found["used"]:
            return wechat_error(40163, "code been used")
        found["used"] = True
    answer = {
        "access_token": "sandbox_web_" + secrets.token_urlsafe(24),
        "expires_in": 7200,
        "refresh_token": "sandbox_refresh_" + secrets.token_urlsafe(24),
        "openid": found["openid"],
        "scope": found["scope"],
    }
    if found["snapshot"]:
        answer["is_snapshotuser"] = 1
    if found["unionid"]:
        answer["unionid"] = found["unionid"]
    return json_response(answer)


def stable_token(body):
    """``/cgi-bin/stable_token`` for the official account (``tokens.stable_token`` hands over
    its appid): a token of its own, the same while more than 5 minutes are left."""
    if not oa_secret_ok(body.get("secret")):
        return wechat_error(40125, "invalid appsecret")
    state = _state()
    with state.lock:
        memory, now = store(state), time.time()
        current = memory["current_token"]
        if current is None or memory["tokens"].get(current, 0) - now <= 300:
            current = memory["current_token"] = "sandbox_oa_" + secrets.token_urlsafe(32)
            memory["tokens"][current] = now + TOKEN_LIFETIME
        return json_response(
            {"access_token": current, "expires_in": int(memory["tokens"][current] - now)}
        )


@bp.get("/cgi-bin/ticket/getticket")
def getticket():
    state = _state()
    token = request.args.get("access_token")
    if not token:
        return wechat_error(41001, "access_token missing")
    if request.args.get("type") != "jsapi":
        return wechat_error(40097, "invalid args")
    with state.lock:
        memory, now = store(state), time.time()
        memory["ticket_calls"] += 1
        expires_at = memory["tokens"].get(token)
        if expires_at is None:
            return wechat_error(40001, "invalid credential, access_token is invalid or not latest")
        if expires_at <= now:
            return wechat_error(42001, "access_token expired")
        current = memory["current_ticket"]
        if current is None or memory["tickets"].get(current, 0) <= now:
            current = memory["current_ticket"] = secrets.token_urlsafe(60)
            memory["tickets"][current] = now + TICKET_LIFETIME
        return json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "ticket": current,
                "expires_in": int(memory["tickets"][current] - now),
            }
        )


def valid_ticket(ticket):
    with _state().lock:
        return store(_state())["tickets"].get(ticket, 0) > time.time()


# --- controls ------------------------------------------------------------------------------------


@bp.post("/sandbox/oauth")
def switch():
    data = control_body()
    with _state().lock:
        current = store(_state())["switch"]
        for name in ("refuse", "snapshot"):
            if name in data:
                current[name] = data[name] is True
        for name in ("openid", "unionid"):
            if name in data:
                current[name] = data[name] if isinstance(data[name], str) and data[name] else None
        return json_response({"switch": dict(current)})


@bp.post("/sandbox/app-login-code")
def app_login_code():
    """What the WeChat SDK hands a native app once the user agrees to sign in (``SendAuth``'s
    code): ``{"openid"?, "unionid"?}`` -> ``{"code", "openid", "unionid"}``, both made up when
    not given (a mobile app belongs to an open-platform account, so it always has a unionid)."""
    data, state = control_body(), _state()
    appid = state.settings.get("WECHAT_APP_APPID")
    if not appid:
        return control_error(400, "NO_APP", "WECHAT_APP_APPID is not set")
    openid, unionid = data.get("openid"), data.get("unionid")
    if not isinstance(openid or "", str) or not isinstance(unionid or "", str):
        return control_error(400, "INVALID_REQUEST", "openid and unionid are strings")
    with state.lock:
        code = secrets.token_urlsafe(24)
        store(state)["codes"][code] = found = {
            "appid": appid,
            "scope": "snsapi_userinfo",
            "openid": openid or "oAPP" + secrets.token_hex(12),
            "unionid": unionid or "oUN" + secrets.token_hex(12),
            "snapshot": False,
            "expires_at": time.time() + APP_CODE_LIFETIME,
            "used": False,
        }
    return json_response({"code": code, "openid": found["openid"], "unionid": found["unionid"]})


@bp.get("/sandbox/jsapi-ticket")
def ticket_info():
    with _state().lock:
        memory = store(_state())
        return json_response({"calls": memory["ticket_calls"], "ticket": memory["current_ticket"]})


@bp.post("/sandbox/jsapi-ticket/expire")
def expire_ticket():
    """The current ticket expires now, and so does the official account's access token: the
    next getticket needs a fresh token too."""
    with _state().lock:
        memory = store(_state())
        for table, key in (("tickets", "current_ticket"), ("tokens", "current_token")):
            if memory[key]:
                memory[table][memory[key]] = time.time() - 1
        return json_response({"ok": True})
