"""Mini-program login: exchange a ``wx.login`` code for the user's openid (code2Session)."""

from dataclasses import dataclass, field

import requests

from ..wechatpay import checks
from ..wechatpay.core.errors import ApiError, TransportError


@dataclass(frozen=True)
class WxSession:
    openid: str
    session_key: str = field(repr=False)  # a secret: never logged, never returned to clients
    unionid: str | None = None


class LoginClient:
    def __init__(self, *, appid, secret, api_base, session=None, timeout=10.0):
        self.appid = appid
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = (min(3.0, timeout), timeout)

    def code2session(self, code):
        """The user's WxSession; ApiError carries WeChat's errcode as a string code."""
        params = {
            "appid": self.appid,
            "secret": self._secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            response = self.session.get(
                self.api_base + "/sns/jscode2session", params=params, timeout=self.timeout
            )
        except requests.Timeout:
            raise TransportError("jscode2session timed out") from None
        except requests.RequestException as exc:
            # Not str(exc): the URL in it carries the app secret.
            raise TransportError(f"jscode2session unreachable: {type(exc).__name__}") from None
        try:
            data = response.json()
        except (ValueError, RecursionError):
            raise TransportError(
                f"jscode2session answered HTTP {response.status_code} without JSON"
            ) from None
        errcode = data.get("errcode") if isinstance(data, dict) else None
        if errcode not in (None, 0):
            raise ApiError(
                str(errcode),
                str(data.get("errmsg", "")),
                response.status_code,
                retryable=errcode == -1,
            )
        try:  # stored as received: the right types and the columns' lengths, or refused
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return WxSession(
                openid=checks.text(data, "openid", 64, required=True),
                session_key=checks.text(data, "session_key", 64, required=True),
                unionid=checks.text(data, "unionid", 64),
            )
        except ValueError as exc:
            raise TransportError(f"jscode2session answer is malformed: {exc}") from None
