"""The official account's server APIs: web authorisation (OAuth2, ``snsapi_base``), its basic
access token, the JS-SDK ``jsapi_ticket``, and the ``wx.config`` signature (products doc §1.2,
§1.3). No Flask, no database: ``server/domain/jsapi_tickets.py`` keeps the ticket.

The secret travels in stable_token's body and in /sns/oauth2/access_token's query string, and
tokens in query strings: no URL or exception text that may hold them is ever logged or raised.
"""

import hashlib
from urllib.parse import urlencode

from ..wechatpay.core.errors import TransportError
from .api import MiniProgramApi

SCOPE = "snsapi_base"  # silent: the openid only, which is all payment needs


def authorize_url(open_base, appid, redirect_uri, state):
    """Where the browser inside WeChat goes to be authorised: WeChat comes back to
    ``redirect_uri?code=CODE&state=STATE`` (only ``state`` when refused). The fragment
    ``#wechat_redirect`` is required, for direct opens and redirects alike
    (https://developers.weixin.qq.com/doc/service/guide/h5/auth.html)."""
    query = urlencode(
        {
            "appid": appid,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
        }
    )
    return f"{open_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def jssdk_signature(jsapi_ticket, noncestr, timestamp, url):
    """``wx.config``'s signature: SHA-1 of ``jsapi_ticket=...&noncestr=...&timestamp=...&url=...``
    (fields sorted by name, values raw, ``url`` without its fragment); JS-SDK doc appendix 1,
    copy: https://www.cnblogs.com/txw1958/p/weixin-jsapi-signature.html."""
    fields = {
        "jsapi_ticket": jsapi_ticket,
        "noncestr": noncestr,
        "timestamp": str(timestamp),
        "url": url.split("#", 1)[0],
    }
    text = "&".join(f"{name}={fields[name]}" for name in sorted(fields))
    return hashlib.sha1(text.encode()).hexdigest()


class OAuthApi(MiniProgramApi):
    """api.weixin.qq.com's OAuth2 code exchange for an appid and its secret: the official
    account's web authorisation, and a native app's mobile-app login (the open platform: the
    same call with the app's appid and secret,
    https://developers.weixin.qq.com/doc/oplatform/Mobile_App/WeChat_Login/Development_Guide.html)."""

    def exchange_code(self, code):
        """``/sns/oauth2/access_token``: the answer (openid, scope, unionid when given,
        is_snapshotuser). ApiError for WeChat's errcode (40029 invalid code, 40163 code used).
        The answer's access_token is the user's OAuth one, which nothing here needs."""
        return self._get(
            "/sns/oauth2/access_token",
            {
                "appid": self.appid,
                "secret": self._secret,
                "code": code,
                "grant_type": "authorization_code",
            },
        )

    def _get(self, path, params):
        return self._request("GET", path, params=params)


class OfficialAccountApi(OAuthApi):
    """api.weixin.qq.com for the official account: its stable_token is the mini program's
    call with the official account's appid and secret."""

    def jsapi_ticket(self, access_token):
        """``(ticket, expires_in)`` from ``/cgi-bin/ticket/getticket?type=jsapi``."""
        data = self._get(
            "/cgi-bin/ticket/getticket", {"access_token": access_token, "type": "jsapi"}
        )
        ticket, expires_in = data.get("ticket"), data.get("expires_in")
        if not isinstance(ticket, str) or not ticket or not isinstance(expires_in, int):
            raise TransportError("getticket answered without a ticket")
        return ticket, expires_in
