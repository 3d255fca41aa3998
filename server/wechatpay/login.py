"""Mini-program login: exchange a ``wx.login`` code for the user's openid (code2Session)."""
from dataclasses import dataclass, field
from typing import Optional

import requests

from .errors import ApiError, TransportError


@dataclass(frozen=True)
class WxSession:
    openid: str
    session_key: str = field(repr=False)  # a secret: never logged, never returned to clients
    unionid: Optional[str] = None


class LoginClient:
    def __init__(self, *, appid, secret, api_base, session=None, timeout=10.0):
        self.appid = appid
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = (min(3.0, timeout), timeout)

    def code2session(self, code):
        """The user's WxSession; ApiError carries WeChat's errcode as a string code."""
        params = {"appid": self.appid, "secret": self._secret, "js_code": code,
                  "grant_type": "authorization_code"}
        try:
            response = self.session.get(self.api_base + "/sns/jscode2session", params=params,
                                        timeout=self.timeout)
        except requests.Timeout:
            raise TransportError("jscode2session timed out") from None
        except requests.RequestException as exc:
            # Not str(exc): the URL in it carries the app secret.
            raise TransportError(f"jscode2session unreachable: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            raise TransportError(f"jscode2session answered HTTP {response.status_code} "
                                 "without JSON") from None
        errcode = data.get("errcode") if isinstance(data, dict) else None
        if errcode not in (None, 0):
            raise ApiError(str(errcode), str(data.get("errmsg", "")), response.status_code,
                           retryable=errcode == -1)
        if not isinstance(data, dict) or not data.get("openid") or not data.get("session_key"):
            raise TransportError("jscode2session answer has no openid")
        return WxSession(openid=data["openid"], session_key=data["session_key"],
                         unionid=data.get("unionid"))
