"""The app's WeChat clients (api.weixin.qq.com), built once per process from the settings:
jscode2session for the mini program's login, the mini program's server APIs (access token,
shipping info), and a native app's sign-in (the open platform's code exchange). WeChat Pay's
gateways are ``server/channels.py``'s.
"""

import requests
from flask import current_app

from .wechat.api import MiniProgramApi
from .wechat.login import LoginClient
from .wechat.official_account import OAuthApi


def init_app(app):
    values = app.config
    timeout = float(values["WECHAT_HTTP_TIMEOUT_SECONDS"])

    # Each client gets a session of its own without retries: a login code works once, so a
    # resent request could only fail, and urllib3 would log the retried URL, which carries the
    # secret (jscode2session, sns/oauth2/access_token) or the access token.
    def client(kind, appid_name, secret_name):
        return kind(
            appid=values.get(appid_name) or "",
            secret=values.get(secret_name) or "",
            api_base=values["WECHAT_API_BASE"],
            session=requests.Session(),
            timeout=timeout,
        )

    app.extensions["wechat_login"] = client(LoginClient, "WECHAT_APPID", "WECHAT_SECRET")
    # The mini program's server APIs (shipping info).
    app.extensions["wechat_miniprogram"] = client(MiniProgramApi, "WECHAT_APPID", "WECHAT_SECRET")
    # A native app's sign-in (POST /api/app/login).
    app.extensions["wechat_app"] = client(OAuthApi, "WECHAT_APP_APPID", "WECHAT_APP_SECRET")


def login_client():
    return current_app.extensions["wechat_login"]


def miniprogram_api():
    """The mini program's server API client (access token, shipping info)."""
    return current_app.extensions["wechat_miniprogram"]


def app_login_api():
    """A native app's OAuth2 code exchange (open platform); its appid is empty when the shop
    has no app."""
    return current_app.extensions["wechat_app"]
