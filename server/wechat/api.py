"""The mini program's server API at api.weixin.qq.com: JSON over HTTPS with an access token.

``stable_token`` gets the token (getStableAccessToken, client_credential); ``post`` calls any
``/wxa/...`` endpoint with it. WeChat answers errors as HTTP 200 with ``errcode``/``errmsg``;
they become ``ApiError`` with the errcode as a string. The token travels in the query string,
so no URL or exception text that may hold it is ever logged or raised (the app secret travels
in stable_token's body).
"""

import requests

from ..wechatpay.core.errors import ApiError, TransportError

# "invalid credential", "access_token expired", "invalid access_token": get a token and retry.
TOKEN_ERRORS = frozenset({"40001", "42001", "40014"})
# WeChat is busy; the same call may succeed later.
BUSY_ERRORS = frozenset({"-1"})


class MiniProgramApi:
    def __init__(self, *, appid, secret, api_base, session=None, timeout=10.0):
        self.appid = appid
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = (min(3.0, timeout), timeout)

    def stable_token(self, force_refresh=False):
        """``(access_token, expires_in seconds)``. In the normal mode WeChat returns the token
        in force (renewed in its last 5 minutes), so every instance converges on one token."""
        data = self._post(
            "/cgi-bin/stable_token",
            None,
            {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": bool(force_refresh),
            },
        )
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise TransportError("stable_token answered without a token")
        return token, expires_in

    def post(self, path, body, access_token):
        """The JSON answer of ``POST path?access_token=...``; ApiError for an errcode."""
        return self._post(path, access_token, body)

    def _post(self, path, access_token, body):
        params = {"access_token": access_token} if access_token else None
        return self._request("POST", path, params=params, json=body)

    def _request(self, method, path, **kwargs):
        """One call to api.weixin.qq.com: its JSON answer, or TransportError / ApiError (an
        ``errcode`` other than 0; BUSY_ERRORS are retryable)."""
        try:
            response = self.session.request(
                method, self.api_base + path, timeout=self.timeout, **kwargs
            )
        except requests.Timeout:
            raise TransportError(f"{path} timed out") from None
        except requests.RequestException as exc:
            raise TransportError(f"{path} unreachable: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            raise TransportError(
                f"{path} answered HTTP {response.status_code} without JSON"
            ) from None
        if not isinstance(data, dict):
            raise TransportError(f"{path} answered with a JSON {type(data).__name__}")
        errcode = data.get("errcode")
        if errcode not in (None, 0):
            code = str(errcode)
            raise ApiError(
                code,
                str(data.get("errmsg", ""))[:200],
                response.status_code,
                retryable=code in BUSY_ERRORS,
            )
        return data
