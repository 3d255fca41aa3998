"""The app's WeChat clients, built once per process from the settings.

Keys are read and parsed here, at start-up, not per request; a missing or unreadable key file
stops the app with the name of the setting at fault. ``checkout_context()`` hands checkout
what it needs from WeChat Pay: the one way to pay today's settings describe. (The next step
turns this module into channels.py: several ways to pay, each with its own context.)
"""

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from flask import current_app

from .config import ConfigError, read_file, required_names
from .domain.checkout import PaymentContext
from .errors import DomainError
from .wechat.api import MiniProgramApi
from .wechat.login import LoginClient
from .wechatpay import crypto
from .wechatpay.core.http import new_http_session, with_budget
from .wechatpay.v2.client import client_cert_session

# How long a request a user waits on gives WeChat to answer a query.
QUICK_QUERY_SECONDS = 2.0


def init_app(app):
    values = app.config
    missing = [name for name in required_names(values) if not values.get(name)]
    session = new_http_session()
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
    # Without the merchant settings the app still starts (catalogue, login), and payment
    # endpoints answer 503 PAYMENTS_NOT_CONFIGURED, naming what is missing in the log.
    app.extensions["wechatpay"] = None if missing else build_gateway(values, session, timeout)
    app.extensions["wechatpay_missing"] = missing
    # Reading an order may ask WeChat about it while the user waits; a slow WeChat must not
    # hold the worker (or the user) for long: a short budget, no retry.
    app.extensions["wechatpay_quick"] = (
        None
        if missing
        else with_budget(app.extensions["wechatpay"], min(timeout, QUICK_QUERY_SECONDS))
    )


def build_gateway(values, session, timeout):
    if values["WECHATPAY_API_VERSION"] == "v2":
        from .wechatpay.v2 import V2Gateway

        return V2Gateway(
            appid=values["WECHAT_APPID"],
            mchid=values["WECHATPAY_MCHID"],
            api_key=values["WECHATPAY_API_KEY"],
            sign_type=values["WECHATPAY_V2_SIGN_TYPE"],
            api_base=values["WECHATPAY_API_BASE"],
            session=session,
            timeout=timeout,
            backup_base=values.get("WECHATPAY_API_BASE_BACKUP"),
            cert_session=_v2_cert_session(values),
        )

    from .wechatpay.v3 import V3Gateway
    from .wechatpay.v3.keys import PlatformKeys

    private_key = _load(crypto.load_private_key, values, "WECHATPAY_PRIVATE_KEY")
    public_key = (
        _load(crypto.load_public_key, values, "WECHATPAY_PUBLIC_KEY")
        if values.get("WECHATPAY_PUBLIC_KEY")
        else None
    )
    # Platform certificates stay a fallback in public key mode: while a merchant migrates,
    # WeChat signs some notifications with the old certificate (docs/protocol.md C4).
    platform_keys = PlatformKeys(
        public_key_id=values.get("WECHATPAY_PUBLIC_KEY_ID"), public_key=public_key
    )
    return V3Gateway(
        appid=values["WECHAT_APPID"],
        mchid=values["WECHATPAY_MCHID"],
        serial_no=values["WECHATPAY_CERT_SERIAL"],
        private_key=private_key,
        apiv3_key=values["WECHATPAY_APIV3_KEY"],
        api_base=values["WECHATPAY_API_BASE"],
        platform_keys=platform_keys,
        session=session,
        timeout=timeout,
        backup_base=values.get("WECHATPAY_API_BASE_BACKUP"),
    )


def _v2_cert_session(values):
    """Mutual TLS for v2 refunds, with the API certificate and key read once, now.

    Without both settings v2 payments still work and refunds are refused (production refuses
    to start, see config.py); a file that cannot be used stops the app, naming the setting.
    """
    cert, key = values.get("WECHATPAY_CERT"), values.get("WECHATPAY_PRIVATE_KEY")
    if not (cert or key):
        return None
    for name in ("WECHATPAY_CERT", "WECHATPAY_PRIVATE_KEY"):
        if not values.get(name):
            raise ConfigError(f"{name} is required with the other one for v2 refunds")
    read_file(cert, "WECHATPAY_CERT")
    _load(crypto.load_private_key, values, "WECHATPAY_PRIVATE_KEY")  # names a passphrase
    try:
        return client_cert_session(cert, key)
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        raise ConfigError(
            "WECHATPAY_CERT is not a PEM certificate matching WECHATPAY_PRIVATE_KEY"
        ) from None


def _load(parse, values, name):
    try:
        return parse(read_file(values[name], name))
    except (ValueError, TypeError, UnsupportedAlgorithm):  # TypeError: it needs a passphrase
        raise ConfigError(f"{name} is not an unencrypted PEM RSA key") from None


def gateway():
    """The configured WeChat Pay gateway (v3 or v2)."""
    gw = current_app.extensions["wechatpay"]
    if gw is None:
        _log_missing()
        raise DomainError("PAYMENTS_NOT_CONFIGURED", "payments are not configured")
    return gw


def checkout_context():
    """What checkout needs from WeChat Pay, from the settings: the mini program's payments
    (JSAPI) with WECHAT_APPID, WECHATPAY_MCHID and WECHATPAY_NOTIFY_URL. Without the merchant
    settings its gateways are None, and checkout answers PAYMENTS_NOT_CONFIGURED."""
    config, extensions = current_app.config, current_app.extensions
    if extensions["wechatpay"] is None:
        _log_missing()
    return PaymentContext(
        gateway=extensions["wechatpay"],
        quick_gateway=extensions["wechatpay_quick"],
        appid=config.get("WECHAT_APPID") or "",
        mchid=config.get("WECHATPAY_MCHID") or "",
        notify_url=config.get("WECHATPAY_NOTIFY_URL") or "",
        order_timeout_minutes=int(config["ORDER_TIMEOUT_MINUTES"]),
    )


def _log_missing():
    current_app.logger.error(
        "payments disabled; missing settings: %s",
        ", ".join(current_app.extensions["wechatpay_missing"]),
    )


def payments_configured():
    """Whether the merchant settings are there (``gateway()`` refuses otherwise)."""
    return current_app.extensions["wechatpay"] is not None


def login_client():
    return current_app.extensions["wechat_login"]


def miniprogram_api():
    """The mini program's server API client (access token, shipping info)."""
    return current_app.extensions["wechat_miniprogram"]
