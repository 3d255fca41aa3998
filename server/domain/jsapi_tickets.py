"""The official account's JS-SDK ``jsapi_ticket``, shared by every worker and instance like the
mini program's access token (``access_tokens``): the same table, one row per kind of token,
one fetch for all concurrent callers, refreshed 5 minutes before its 7200 s run out. WeChat's
quota for getticket is small, so a ticket per page or per process would soon be refused
(https://developers.weixin.qq.com/doc/service/en/api/webdev/jssdk/api_getticket.html).

    wx_config(api, url)   the signed ``wx.config`` parameters for a page at ``url``
"""

import logging

from ..wechat.api import TOKEN_ERRORS
from ..wechat.official_account import jssdk_signature
from ..wechatpay import crypto
from ..wechatpay.core.errors import ApiError
from . import access_tokens

log = logging.getLogger(__name__)

ROW_PREFIX = "jsapi:"  # the ticket's row beside the access tokens' (keyed by appid)


class _Ticket:
    """The ticket as ``access_tokens`` keeps a token: a row key and a way to fetch it."""

    def __init__(self, api):
        self.api = api
        self.appid = ROW_PREFIX + api.appid

    def stable_token(self):
        token = access_tokens.current_token(self.api)  # the basic access token, shared too
        try:
            return self.api.jsapi_ticket(token)
        except ApiError as exc:
            if exc.code not in TOKEN_ERRORS:
                raise
            log.warning("getticket: access token rejected (%s); refreshing once", exc.code)
            access_tokens.forget(self.api.appid, token)
        return self.api.jsapi_ticket(access_tokens.current_token(self.api))


def current_ticket(api):
    """A valid jsapi_ticket for the official account of ``api``."""
    return access_tokens.current_token(_Ticket(api))


def wx_config(api, url):
    """``wx.config``'s parameters for the page at ``url`` (its fragment dropped)."""
    timestamp, nonce = str(crypto.now()), crypto.nonce()
    return {
        "appId": api.appid,
        "timestamp": int(timestamp),
        "nonceStr": nonce,
        "signature": jssdk_signature(current_ticket(api), nonce, timestamp, url),
        "jsApiList": ["chooseWXPay"],
    }
