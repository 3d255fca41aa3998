"""The app's WeChat clients (api.weixin.qq.com), built once per process from the settings:
jscode2session for the mini program's login, and the mini program's server APIs (access token,
shipping info). WeChat Pay's gateways are ``server/channels.py``'s.
"""

import requests
from flask import current_app

from .wechat.api import MiniProgramApi
from .wechat.login import LoginClient


def init_app(app):
    values = app.config
    timeout = float(values["WECHAT_HTTP_TIMEOUT_SECONDS"])
    # Login gets a session without retries: a js_code works once, so a resent request could
    # only fail, and urllib3 would log the retried URL, which carries the app secret.
    app.extensions["wechat_login"] = LoginClient(
        appid=values.get("WECHAT_APPID") or "",
        secret=values.get("WECHAT_SECRET") or "",
        api_base=values["WECHAT_API_BASE"],
        session=requests.Session(),
        timeout=timeout,
    )
    # The mini program's server APIs (shipping info); a session of its own, without retries:
    # its URLs carry the access token, which urllib3 would log on a retry.
    app.extensions["wechat_miniprogram"] = MiniProgramApi(
        appid=values.get("WECHAT_APPID") or "",
        secret=values.get("WECHAT_SECRET") or "",
        api_base=values["WECHAT_API_BASE"],
        session=requests.Session(),
        timeout=timeout,
    )


def login_client():
    return current_app.extensions["wechat_login"]


def miniprogram_api():
    """The mini program's server API client (access token, shipping info)."""
    return current_app.extensions["wechat_miniprogram"]
