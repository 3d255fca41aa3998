"""Settings from the environment (``.env`` in development), validated once at start-up.

Every setting has the name of its environment variable. ``create_app(overrides)`` lays a dict of
the same names over the environment, which is how tests configure an app. In production
(``APP_ENV=production``) the app refuses to start with anything that only makes sense on a
developer's machine, and names the setting at fault.
"""
import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from .wechat import push

DEFAULTS = {
    "APP_ENV": "development",
    "SECRET_KEY": "dev-secret-key-change-me",
    "DATABASE_URL": "sqlite:///" + str(Path("instance/app.db").resolve()),
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    "WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com",
    "WECHATPAY_API_VERSION": "v3",
    "WECHATPAY_V2_SIGN_TYPE": "MD5",
    "ORDER_TIMEOUT_MINUTES": "30",
    "ORDER_QUERY_INTERVAL_SECONDS": "5",
    "TOKEN_TTL_SECONDS": "7200",
    "TRUSTED_PROXY_COUNT": "0",
    "WECHAT_HTTP_TIMEOUT_SECONDS": "10",
    "REFUND_REQUESTS_ENABLED": "true",
    "REFUND_REQUEST_WINDOW_DAYS": "7",
    # Ship paid orders as virtual goods (vouchers, memberships) automatically, in the job.
    "SHIPPING_AUTO_VIRTUAL": "false",
}

NAMES = [
    "WECHAT_APPID", "WECHAT_SECRET", "WECHATPAY_MCHID", "WECHATPAY_APIV3_KEY", "WECHATPAY_API_KEY",
    "WECHATPAY_CERT_SERIAL", "WECHATPAY_PRIVATE_KEY", "WECHATPAY_CERT", "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_NOTIFY_URL", "WECHATPAY_REFUND_NOTIFY_URL",
    "WECHATPAY_API_BASE_BACKUP", "WECHAT_PUSH_TOKEN", "WECHAT_PUSH_AES_KEY", *DEFAULTS,
]

# The staff console: idle session lifetime, login attempts per address (shared through Redis
# when REDIS_URL is set), and how many failed logins in a row lock an account for how long.
CONSOLE_DEFAULTS = {
    "CONSOLE_SESSION_SECONDS": "3600",
    "CONSOLE_LOGIN_RATE_LIMIT": "10 per minute",
    "CONSOLE_LOCKOUT_FAILURES": "5",
    "CONSOLE_LOCKOUT_MINUTES": "15",
}
DEFAULTS.update(CONSOLE_DEFAULTS)
NAMES += [*CONSOLE_DEFAULTS, "REDIS_URL"]

WECHATPAY_BACKUP_BASE = "https://api2.mch.weixin.qq.com"
# `python -m sandbox.devkeys` leaves this file beside the keys it makes; production refuses them.
DEV_KEYS_MARKER = "DEVELOPMENT-KEYS-NOT-FOR-PRODUCTION"
# What a production deployment must not run with.
_DEV_SECRETS = {DEFAULTS["SECRET_KEY"]}
_SIMULATOR_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "[::1]")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it (never its value)."""


def load(overrides=None, env_file=".env"):
    """The settings: defaults < .env file < process environment < ``overrides``.

    An app built with explicit overrides (tests) does not read the developer's ``.env``.
    """
    values = dict(DEFAULTS)
    if overrides is None and env_file and Path(env_file).exists():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k: os.environ[k] for k in NAMES if k in os.environ})
    values.update({k: str(v) for k, v in (overrides or {}).items() if v is not None})
    if not values.get("WECHATPAY_REFUND_NOTIFY_URL") and values.get("WECHATPAY_NOTIFY_URL"):
        values["WECHATPAY_REFUND_NOTIFY_URL"] = refund_notify_url(values["WECHATPAY_NOTIFY_URL"])
    if "WECHATPAY_API_BASE_BACKUP" not in values \
            and values["WECHATPAY_API_BASE"].rstrip("/") == DEFAULTS["WECHATPAY_API_BASE"]:
        # WeChat's backup domain, for when the primary cannot be reached (set it empty to
        # turn failover off).
        values["WECHATPAY_API_BASE_BACKUP"] = WECHATPAY_BACKUP_BASE
    validate(values)
    return values


def validate(values):
    _validate_console(values)
    version = values["WECHATPAY_API_VERSION"]
    if version not in ("v2", "v3"):
        raise ConfigError("WECHATPAY_API_VERSION must be v2 or v3")
    if values["WECHATPAY_V2_SIGN_TYPE"] not in ("MD5", "HMAC-SHA256"):
        raise ConfigError("WECHATPAY_V2_SIGN_TYPE must be MD5 or HMAC-SHA256")
    for name in ("ORDER_TIMEOUT_MINUTES", "ORDER_QUERY_INTERVAL_SECONDS", "TOKEN_TTL_SECONDS",
                 "TRUSTED_PROXY_COUNT", "WECHAT_HTTP_TIMEOUT_SECONDS",
                 "REFUND_REQUEST_WINDOW_DAYS"):
        if not re.fullmatch(r"[0-9]{1,9}", values[name]):
            raise ConfigError(f"{name} must be a whole number")
    if int(values["WECHAT_HTTP_TIMEOUT_SECONDS"]) < 1:
        raise ConfigError("WECHAT_HTTP_TIMEOUT_SECONDS must be at least 1")
    # Both keys are 32 characters; a shorter APIv3 key would make AES-GCM fail (or silently
    # pick AES-128) on every notification.
    for name in ("WECHATPAY_APIV3_KEY", "WECHATPAY_API_KEY"):
        if values.get(name) and len(values[name].encode()) != 32:
            raise ConfigError(f"{name} must be exactly 32 characters")
    for name in ("WECHATPAY_NOTIFY_URL", "WECHATPAY_REFUND_NOTIFY_URL"):
        if "?" in (values.get(name) or ""):
            raise ConfigError(f"{name} must not have a query string")
    if values["REFUND_REQUESTS_ENABLED"] not in ("true", "false"):
        raise ConfigError("REFUND_REQUESTS_ENABLED must be true or false")
    if int(values["ORDER_TIMEOUT_MINUTES"]) < 1:
        raise ConfigError("ORDER_TIMEOUT_MINUTES must be at least 1 (WeChat's minimum)")
    if values["SHIPPING_AUTO_VIRTUAL"] not in ("true", "false"):
        raise ConfigError("SHIPPING_AUTO_VIRTUAL must be true or false")
    _validate_push(values)
    if values["APP_ENV"] == "production":
        _validate_production(values)


def _validate_console(values):
    for name in ("CONSOLE_SESSION_SECONDS", "CONSOLE_LOCKOUT_FAILURES", "CONSOLE_LOCKOUT_MINUTES"):
        if not re.fullmatch(r"[0-9]{1,9}", values[name]) or int(values[name]) < 1:
            raise ConfigError(f"{name} must be a whole number, at least 1")
    if not re.fullmatch(r"[0-9]{1,6} ?(per |/)(second|minute|hour|day)s?",
                        values["CONSOLE_LOGIN_RATE_LIMIT"]):
        raise ConfigError("CONSOLE_LOGIN_RATE_LIMIT must look like '10 per minute'")


def _validate_push(values):
    """The message push's Token and EncodingAESKey, as the mini program's admin page sets them."""
    token, key = values.get("WECHAT_PUSH_TOKEN"), values.get("WECHAT_PUSH_AES_KEY")
    if token and not re.fullmatch(r"[A-Za-z0-9]{3,32}", token):
        raise ConfigError("WECHAT_PUSH_TOKEN must be 3 to 32 letters or digits")
    if key:
        try:
            push.aes_key(key)
        except ValueError:
            raise ConfigError("WECHAT_PUSH_AES_KEY must be the 43-character EncodingAESKey") \
                from None
        if not token:
            raise ConfigError("WECHAT_PUSH_AES_KEY needs WECHAT_PUSH_TOKEN")
    if values["APP_ENV"] == "production" and token and not key:
        # In the plaintext mode the signature does not cover the body.
        raise ConfigError("WECHAT_PUSH_AES_KEY is required in production (use the secure mode "
                          "of the message push)")


def required_names(values):
    """The settings the selected API version cannot work without."""
    names = ["WECHAT_APPID", "WECHAT_SECRET", "WECHATPAY_MCHID", "WECHATPAY_NOTIFY_URL"]
    if values["WECHATPAY_API_VERSION"] == "v2":
        return names + ["WECHATPAY_API_KEY"]
    names += ["WECHATPAY_APIV3_KEY", "WECHATPAY_CERT_SERIAL", "WECHATPAY_PRIVATE_KEY"]
    if values.get("WECHATPAY_PUBLIC_KEY_ID") or values.get("WECHATPAY_PUBLIC_KEY"):
        names += ["WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID"]
    return names


def _validate_production(values):
    for name in required_names(values):
        if not values.get(name):
            raise ConfigError(f"{name} is required in production")
    if values["SECRET_KEY"] in _DEV_SECRETS or len(values["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY is a development value or shorter than 32 characters")
    for name in ("WECHAT_API_BASE", "WECHATPAY_API_BASE", "WECHATPAY_NOTIFY_URL",
                 "WECHATPAY_REFUND_NOTIFY_URL", "WECHATPAY_API_BASE_BACKUP"):
        url = values.get(name)
        if name == "WECHATPAY_API_BASE_BACKUP" and not url:
            continue
        if not url.startswith("https://") or any(h in url for h in _SIMULATOR_HOSTS):
            raise ConfigError(f"{name} must be a public https:// URL, not the simulator")
    for name in ("WECHATPAY_PRIVATE_KEY", "WECHATPAY_PUBLIC_KEY"):
        path = values.get(name)
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"{name} names a file that cannot be read")
        if path and (Path(path).parent / DEV_KEYS_MARKER).exists():
            raise ConfigError(f"{name} names a generated development key")


def refund_notify_url(notify_url):
    """The payment notification URL with its path replaced by /api/refund/notify."""
    parts = urlsplit(notify_url)
    return urlunsplit((parts.scheme, parts.netloc, "/api/refund/notify", "", ""))


def read_file(path, name):
    """The bytes of a key file named by setting ``name``; ConfigError names the setting."""
    try:
        return Path(path).read_bytes()
    except OSError:
        raise ConfigError(f"{name} names a file that cannot be read") from None
