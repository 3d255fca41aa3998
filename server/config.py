"""Settings from the environment (``.env`` in development), validated once at start-up.

Every setting has the name of its environment variable. ``create_app(overrides)`` lays a dict of
the same names over the environment, which is how tests configure an app. In production
(``APP_ENV=production``) the app refuses to start with anything that only makes sense on a
developer's machine, and names the setting at fault.
"""

import ipaddress
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import limits
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from dotenv import dotenv_values

from .wechat import push
from .wechatpay.v2.messages import MAX_NOTIFY_URL_CHARS  # WeChat Pay's limit, v2 and v3 alike

DEFAULTS = {
    "APP_ENV": "development",
    "SECRET_KEY": "dev-secret-key-change-me",
    "DATABASE_URL": "sqlite:///" + str(Path("instance/app.db").resolve()),
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    # Web authorisation (the official account's OAuth2): open.weixin.qq.com.
    "WECHAT_OPEN_BASE": "https://open.weixin.qq.com",
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
    # Comma-separated host names the backend answers for (Host / X-Forwarded-Host); others
    # get 400. Empty: any (development). Required in production.
    "TRUSTED_HOSTS": "",
    # Rate limits per user (flask-limiter notation, ";" between limits). Writes place orders
    # with WeChat Pay (the merchant's API quota); reads may query it.
    "RATE_LIMIT_ORDER_WRITES": "20 per minute;300 per day",
    "RATE_LIMIT_ORDER_READS": "120 per minute",
    # redis://host:port/db: rate limits shared by every instance. Empty: in memory (one process).
    "REDIS_URL": "",
    # PostgreSQL connections (docs/performance.md#the-postgresql-connection-budget). Each
    # process keeps up to DATABASE_POOL_SIZE and opens up to DATABASE_MAX_OVERFLOW more at busy
    # moments. A thread holds one only while it talks to the database, never while it waits on
    # WeChat, so far fewer than gunicorn's threads suffice.
    "DATABASE_POOL_SIZE": "10",
    "DATABASE_MAX_OVERFLOW": "10",
    # The connections this instance may open in all (its gunicorn workers and its jobs); in
    # production the app refuses to start when its pools could exceed it. Default: PostgreSQL's
    # default max_connections (100) less its 3 superuser_reserved_connections. Two app machines
    # sharing one database declare their share each.
    "DATABASE_MAX_CONNECTIONS": "97",
    # gunicorn's worker processes (gunicorn.conf.py reads it too). Empty: one per usable core.
    "GUNICORN_WORKERS": "",
    # The shop's language (zh_Hans or en): the order descriptions WeChat shows on the user's
    # bill ("手冲咖啡等3件").
    "SHOP_LANGUAGE": "zh_Hans",
    # Where uploaded product images are stored (resized copies; nginx serves them at /media/).
    "MEDIA_DIR": str(Path("instance/media").resolve()),
}

NAMES = [
    "WECHAT_APPID",
    "WECHAT_SECRET",
    # The official account (服务号) of the web shop inside WeChat: docs/web-shop.md.
    "WECHAT_OA_APPID",
    "WECHAT_OA_SECRET",
    "WECHAT_OPEN_BASE",
    # A native app's appid and secret (open platform): APP payments and the app's sign-in,
    # docs/web-shop.md.
    "WECHAT_APP_APPID",
    "WECHAT_APP_SECRET",
    "WECHATPAY_MCHID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_API_KEY",
    "WECHATPAY_CERT_SERIAL",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_CERT",
    "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_NOTIFY_URL",
    "WECHATPAY_REFUND_NOTIFY_URL",
    "WECHATPAY_API_BASE_BACKUP",
    # More ways to pay than the mini program's (server/channels.py, docs/channels.md): names,
    # and a row of WECHATPAY_CHANNEL_<NAME>_* settings each (read by prefix, below).
    "WECHATPAY_CHANNELS",
    # A service provider's deployment and its stores (server/stores.py, docs/provider.md),
    # a row of WECHATPAY_STORE_<NAME>_* settings each (read by prefix, below).
    "WECHATPAY_MODE",
    "WECHATPAY_SP_APPID",
    "WECHATPAY_STORES",
    "WECHAT_PUSH_TOKEN",
    "WECHAT_PUSH_AES_KEY",
    *DEFAULTS,
]

# The counter's loop (docs/counter.md): query every POLL seconds while the customer types the
# PIN, give up after PIN_TIMEOUT and reverse, never sooner than REVERSE_AFTER after the
# charge; a driver owns a loop for LEASE seconds at a time; WORKERS loops run at once per
# process.
COUNTER_DEFAULTS = {
    "COUNTER_POLL_SECONDS": "5",
    "COUNTER_PIN_TIMEOUT_SECONDS": "45",
    "COUNTER_REVERSE_AFTER_SECONDS": "15",
    "COUNTER_LEASE_SECONDS": "30",
    "COUNTER_WORKERS": "4",
    "COUNTER_REVERSE_ATTEMPTS": "30",
}
DEFAULTS.update(COUNTER_DEFAULTS)
NAMES += [*COUNTER_DEFAULTS]

# The staff console: idle session lifetime, login attempts per address (shared through Redis
# when REDIS_URL is set), and how many failed logins in a row lock an account for how long.
CONSOLE_DEFAULTS = {
    "CONSOLE_SESSION_SECONDS": "3600",
    "CONSOLE_LOGIN_RATE_LIMIT": "10 per minute",
    "CONSOLE_LOCKOUT_FAILURES": "5",
    "CONSOLE_LOCKOUT_MINUTES": "15",
    # Server-side sessions (docs/security.md): the longest one may last, and how much of the
    # address must stay the same (0: any address, for staff on mobile networks).
    "CONSOLE_SESSION_MAX_HOURS": "12",
    "CONSOLE_SESSION_IPV4_PREFIX": "24",
    "CONSOLE_SESSION_IPV6_PREFIX": "64",
    # Money actions need the password (or a second-factor code) typed this recently.
    "CONSOLE_FRESH_MINUTES": "10",
    # Second-factor codes tried per address; "required", "optional", or empty: required for
    # admins in production, optional elsewhere.
    "CONSOLE_CODE_RATE_LIMIT": "5 per minute",
    "CONSOLE_ADMIN_TOTP": "",
}
DEFAULTS.update(CONSOLE_DEFAULTS)
NAMES += [*CONSOLE_DEFAULTS, "REDIS_URL"]

WECHATPAY_BACKUP_BASE = "https://api2.mch.weixin.qq.com"
CHANNEL_ROW_PREFIX = "WECHATPAY_CHANNEL_"  # WECHATPAY_CHANNEL_<NAME>_<FIELD>
STORE_ROW_PREFIX = "WECHATPAY_STORE_"  # WECHATPAY_STORE_<NAME>_<FIELD>
# Exactly these; anything else ("Production", "prod", "production ") is refused, so a typo can
# never skip the production checks.
APP_ENVS = ("development", "production")
# `python -m sandbox.devkeys` makes RSA keys whose modulus has these 64 bits right after its
# leading bit (see sandbox/devkeys.py), so production recognises a development key, private or
# public or in a certificate, wherever it was copied; 2**-64 chance for a real key.
DEV_MODULUS_MARK = 0x5EC7E57DE7C0FFEE
# The file devkeys leaves beside the keys (older development keys carry no mark).
DEV_KEYS_MARKER = "DEVELOPMENT-KEYS-NOT-FOR-PRODUCTION"
# The subject organisation of the certificates devkeys makes.
DEV_CERT_ORGANIZATION = "WeChat Pay simulator"
# What a production deployment must not run with.
_DEV_SECRETS = {DEFAULTS["SECRET_KEY"]}
_NOTIFY_URLS = ("WECHATPAY_NOTIFY_URL", "WECHATPAY_REFUND_NOTIFY_URL")
_URL_SETTINGS = (
    "WECHAT_API_BASE",
    "WECHATPAY_API_BASE",
    "WECHATPAY_API_BASE_BACKUP",
    *_NOTIFY_URLS,
)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it (never its value)."""


def load(overrides=None, env_file=".env"):
    """The settings: defaults < .env file < process environment < ``overrides``.

    An app built with explicit overrides (tests) does not read the developer's ``.env``.
    """
    values = dict(DEFAULTS)
    if overrides is None and env_file and Path(env_file).exists():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(
        {
            k: v
            for k, v in os.environ.items()
            if k in NAMES or k.startswith((CHANNEL_ROW_PREFIX, STORE_ROW_PREFIX))
        }
    )
    values.update({k: str(v) for k, v in (overrides or {}).items() if v is not None})
    if not values.get("WECHATPAY_REFUND_NOTIFY_URL") and values.get("WECHATPAY_NOTIFY_URL"):
        try:
            values["WECHATPAY_REFUND_NOTIFY_URL"] = refund_notify_url(
                values["WECHATPAY_NOTIFY_URL"]
            )
        except ValueError:
            pass  # not a URL: validate() names WECHATPAY_NOTIFY_URL
    if (
        "WECHATPAY_API_BASE_BACKUP" not in values
        and values["WECHATPAY_API_BASE"].rstrip("/") == DEFAULTS["WECHATPAY_API_BASE"]
    ):
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
    for name in (
        "ORDER_TIMEOUT_MINUTES",
        "ORDER_QUERY_INTERVAL_SECONDS",
        "TOKEN_TTL_SECONDS",
        "TRUSTED_PROXY_COUNT",
        "WECHAT_HTTP_TIMEOUT_SECONDS",
        "REFUND_REQUEST_WINDOW_DAYS",
        "DATABASE_POOL_SIZE",
        "DATABASE_MAX_OVERFLOW",
        "DATABASE_MAX_CONNECTIONS",
    ):
        if not re.fullmatch(r"[0-9]{1,9}", values[name]):
            raise ConfigError(f"{name} must be a whole number")
    if int(values["DATABASE_POOL_SIZE"]) < 1:
        raise ConfigError("DATABASE_POOL_SIZE must be at least 1")
    if values["GUNICORN_WORKERS"] and not re.fullmatch(
        r"[1-9][0-9]{0,3}", values["GUNICORN_WORKERS"]
    ):
        raise ConfigError("GUNICORN_WORKERS must be a whole number, at least 1")
    if int(values["WECHAT_HTTP_TIMEOUT_SECONDS"]) < 1:
        raise ConfigError("WECHAT_HTTP_TIMEOUT_SECONDS must be at least 1")
    # Both keys are 32 characters; a shorter APIv3 key would make AES-GCM fail (or silently
    # pick AES-128) on every notification.
    for name in ("WECHATPAY_APIV3_KEY", "WECHATPAY_API_KEY"):
        if values.get(name) and len(values[name].encode()) != 32:
            raise ConfigError(f"{name} must be exactly 32 characters")
    for name in _URL_SETTINGS:
        if values.get(name):
            _check_url(name, values[name])
    for name in ("RATE_LIMIT_ORDER_WRITES", "RATE_LIMIT_ORDER_READS"):
        try:
            limits.parse_many(values[name])
        except ValueError:
            raise ConfigError(f"{name} must be like '20 per minute;300 per day'") from None
    if values["REDIS_URL"] and urlsplit(values["REDIS_URL"]).scheme not in ("redis", "rediss"):
        raise ConfigError("REDIS_URL must be a redis:// or rediss:// URL")
    if int(values["ORDER_TIMEOUT_MINUTES"]) < 1:
        raise ConfigError("ORDER_TIMEOUT_MINUTES must be at least 1 (WeChat's minimum)")
    if values["APP_ENV"] not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}")
    for name in ("REFUND_REQUESTS_ENABLED", "SHIPPING_AUTO_VIRTUAL"):
        if values[name] not in ("true", "false"):
            raise ConfigError(f"{name} must be true or false")
    if values["SHOP_LANGUAGE"] not in ("zh_Hans", "en"):
        raise ConfigError("SHOP_LANGUAGE must be zh_Hans or en")
    if not values["MEDIA_DIR"].strip():
        raise ConfigError("MEDIA_DIR must name a directory")
    _validate_push(values)
    _validate_counter(values)
    _validate_channels(values)
    if values["APP_ENV"] == "production":
        _validate_production(values)


def _validate_counter(values):
    for name in COUNTER_DEFAULTS:
        if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,3})?", values[name]) or not float(values[name]):
            raise ConfigError(f"{name} must be a positive number of seconds (workers: a count)")
    if float(values["COUNTER_LEASE_SECONDS"]) < 2 * float(values["COUNTER_POLL_SECONDS"]):
        raise ConfigError("COUNTER_LEASE_SECONDS must be at least twice COUNTER_POLL_SECONDS")
    for name in ("COUNTER_WORKERS", "COUNTER_REVERSE_ATTEMPTS"):
        if not values[name].isdigit():
            raise ConfigError(f"{name} must be a whole number")


def _validate_channels(values):
    """The ways to pay (server/channels.py reads them; ConfigError names the setting), and
    their notify URLs by the same rules as WECHATPAY_NOTIFY_URL's."""
    from .channels import notify_url_settings

    for name, url in notify_url_settings(values):
        if name not in _NOTIFY_URLS:
            _check_url(name, url, notify=True)


def api_versions(values):
    """The API versions the channels use: WECHATPAY_API_VERSION, and any a channel's row sets."""
    return {values["WECHATPAY_API_VERSION"]} | {
        value
        for key, value in values.items()
        if key.startswith(CHANNEL_ROW_PREFIX) and key.endswith("_API_VERSION") and value
    }


def _validate_console(values):
    for name in ("CONSOLE_SESSION_SECONDS", "CONSOLE_LOCKOUT_FAILURES", "CONSOLE_LOCKOUT_MINUTES"):
        if not re.fullmatch(r"[0-9]{1,9}", values[name]) or int(values[name]) < 1:
            raise ConfigError(f"{name} must be a whole number, at least 1")
    for name in ("CONSOLE_LOGIN_RATE_LIMIT", "CONSOLE_CODE_RATE_LIMIT"):
        if not re.fullmatch(r"[0-9]{1,6} ?(per |/)(second|minute|hour|day)s?", values[name]):
            raise ConfigError(f"{name} must look like '10 per minute'")
    if not re.fullmatch(r"[0-9]{1,6}", values["CONSOLE_SESSION_MAX_HOURS"]) or not int(
        values["CONSOLE_SESSION_MAX_HOURS"]
    ):
        raise ConfigError("CONSOLE_SESSION_MAX_HOURS must be a whole number, at least 1")
    if not re.fullmatch(r"[0-9]{1,6}", values["CONSOLE_FRESH_MINUTES"]):
        raise ConfigError("CONSOLE_FRESH_MINUTES must be a whole number of minutes")
    for name, bits in (("CONSOLE_SESSION_IPV4_PREFIX", 32), ("CONSOLE_SESSION_IPV6_PREFIX", 128)):
        if not re.fullmatch(r"[0-9]{1,3}", values[name]) or int(values[name]) > bits:
            raise ConfigError(f"{name} must be a number of bits from 0 to {bits}")
    if values["CONSOLE_ADMIN_TOTP"] not in ("", "required", "optional"):
        raise ConfigError("CONSOLE_ADMIN_TOTP must be required, optional or empty")
    if values["APP_ENV"] == "production" and values["CONSOLE_ADMIN_TOTP"] == "optional":
        raise ConfigError("CONSOLE_ADMIN_TOTP cannot be optional in production")


def _validate_push(values):
    """The message push's Token and EncodingAESKey, as the mini program's admin page sets them."""
    token, key = values.get("WECHAT_PUSH_TOKEN"), values.get("WECHAT_PUSH_AES_KEY")
    if token and not re.fullmatch(r"[A-Za-z0-9]{3,32}", token):
        raise ConfigError("WECHAT_PUSH_TOKEN must be 3 to 32 letters or digits")
    if key:
        try:
            push.aes_key(key)
        except ValueError:
            raise ConfigError(
                "WECHAT_PUSH_AES_KEY must be the 43-character EncodingAESKey"
            ) from None
        if not token:
            raise ConfigError("WECHAT_PUSH_AES_KEY needs WECHAT_PUSH_TOKEN")
    if values["APP_ENV"] == "production" and token and not key:
        # In the plaintext mode the signature does not cover the body.
        raise ConfigError(
            "WECHAT_PUSH_AES_KEY is required in production (use the secure mode "
            "of the message push)"
        )


def _check_url(name, url, notify=False):
    """An http(s) URL with a host and no fragment; a notify URL also has no query string
    and at most 256 characters (what WeChat Pay accepts)."""
    notify = notify or name in _NOTIFY_URLS
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"{name} is not a URL") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.fragment
        or "#" in url
        or parts.username is not None
        or any(c.isspace() for c in url)
    ):
        raise ConfigError(f"{name} must be an http(s) URL with a host and no fragment")
    if notify and (parts.query or "?" in url):
        raise ConfigError(f"{name} must not have a query string")
    if notify and len(url) > MAX_NOTIFY_URL_CHARS:
        raise ConfigError(f"{name} must be at most {MAX_NOTIFY_URL_CHARS} characters")


def is_local_host(host):
    """True for a name or address that cannot be a public server: localhost, single-label
    names, and loopback, private, link-local or unspecified addresses in any spelling
    (127.1, 2130706433, 0x7f000001, [::1], [::ffff:127.0.0.1], 0.0.0.0...)."""
    host = (host or "").rstrip(".").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            return True  # "sandbox", "2130706433": nothing public has a one-label name
        try:  # the legacy IPv4 forms inet_aton reads: 127.1, 0x7f.0.0.1, 0177.0.0.1
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False  # a domain name
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global


def required_names(values):
    """The settings the selected API version (WECHATPAY_API_VERSION) cannot work without."""
    names = ["WECHAT_APPID", "WECHAT_SECRET", "WECHATPAY_MCHID", "WECHATPAY_NOTIFY_URL"]
    if values["WECHATPAY_API_VERSION"] == "v2":
        return names + ["WECHATPAY_API_KEY"]
    names += ["WECHATPAY_APIV3_KEY", "WECHATPAY_CERT_SERIAL", "WECHATPAY_PRIVATE_KEY"]
    if values.get("WECHATPAY_PUBLIC_KEY_ID") or values.get("WECHATPAY_PUBLIC_KEY"):
        names += ["WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID"]
    return names


# At most this many connections for the periodic jobs and an operator's commands, beside the
# app's pools: `payments sync` holds its lock's connection plus one per thread (--concurrency 4)
# and the main session; `bills reconcile` may run at the same time; one more for `flask shell`.
JOB_CONNECTIONS = 10


def gunicorn_workers(values):
    """gunicorn's worker processes, as gunicorn.conf.py counts them."""
    if values.get("GUNICORN_WORKERS"):
        return int(values["GUNICORN_WORKERS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(2, cores or 1)


def connection_budget(values):
    """(connections this instance may open at most, the DATABASE_MAX_CONNECTIONS declared)."""
    per_worker = int(values["DATABASE_POOL_SIZE"]) + int(values["DATABASE_MAX_OVERFLOW"])
    needed = gunicorn_workers(values) * per_worker + JOB_CONNECTIONS
    return needed, int(values["DATABASE_MAX_CONNECTIONS"])


def _validate_connections(values):
    # SQLite has no connection limit worth the name; PostgreSQL refuses the connection beyond
    # max_connections ("too many clients already"), at the busiest moment.
    if not values["DATABASE_URL"].startswith(("postgres://", "postgresql")):
        return
    needed, declared = connection_budget(values)
    if needed > declared:
        raise ConfigError(
            f"DATABASE_MAX_CONNECTIONS is {declared}, but {gunicorn_workers(values)} gunicorn "
            f"workers x (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW) + {JOB_CONNECTIONS} for the "
            f"jobs may open {needed}: lower the pool or the workers, or raise PostgreSQL's "
            "max_connections and declare it"
        )


def _validate_production(values):
    _validate_connections(values)
    # v2 refunds go over mutual TLS with the API certificate (apiclient_cert.pem + key.pem).
    versions = api_versions(values)
    v2_refunds = ["WECHATPAY_CERT", "WECHATPAY_PRIVATE_KEY"] if "v2" in versions else []
    required = [
        name
        for version in sorted(versions)
        for name in required_names({**values, "WECHATPAY_API_VERSION": version})
    ]
    for name in required + v2_refunds:
        if not values.get(name):
            raise ConfigError(f"{name} is required in production")
    if values["SECRET_KEY"] in _DEV_SECRETS or len(values["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY is a development value or shorter than 32 characters")
    for name in _URL_SETTINGS:
        if not values.get(name) and name == "WECHATPAY_API_BASE_BACKUP":
            continue  # failover off
        parts = urlsplit(values.get(name) or "")
        if parts.scheme != "https" or is_local_host(parts.hostname):
            raise ConfigError(f"{name} must be a public https:// URL, not the simulator")
    from . import stores

    if stores.mode(values) == "provider" and not stores.read(values):
        # A service provider cannot trade for itself: without a store nothing can be paid.
        raise ConfigError("WECHATPAY_STORES is required in production with WECHATPAY_MODE=provider")
    hosts = [h.strip().lower() for h in values["TRUSTED_HOSTS"].split(",") if h.strip()]
    if not hosts:
        raise ConfigError("TRUSTED_HOSTS is required in production (the site's host names)")
    if urlsplit(values["WECHATPAY_NOTIFY_URL"]).hostname not in hosts:
        raise ConfigError("TRUSTED_HOSTS must include the host of WECHATPAY_NOTIFY_URL")
    from .channels import notify_url_settings

    for name, url in notify_url_settings(values):
        parts = urlsplit(url)
        if parts.scheme != "https" or is_local_host(parts.hostname):
            raise ConfigError(f"{name} must be a public https:// URL, not the simulator")
        if parts.hostname not in hosts:
            raise ConfigError(f"TRUSTED_HOSTS must include the host of {name}")
    for name in ["WECHATPAY_PRIVATE_KEY", "WECHATPAY_PUBLIC_KEY", "WECHATPAY_CERT"] + v2_refunds:
        path = values.get(name)
        if path and is_development_key(read_file(path, name), Path(path)):
            raise ConfigError(f"{name} names a generated development key")


def refund_notify_url(notify_url):
    """The payment notification URL with its path replaced by /api/refund/notify."""
    parts = urlsplit(notify_url)
    return urlunsplit((parts.scheme, parts.netloc, "/api/refund/notify", "", ""))


def is_development_key(pem, path=None):
    """True for a key or certificate made by ``sandbox.devkeys``, copied anywhere."""
    modulus = _rsa_modulus(pem)
    if (
        modulus
        and modulus.bit_length() > 65
        and (modulus >> (modulus.bit_length() - 65)) & (2**64 - 1) == DEV_MODULUS_MARK
    ):
        return True
    if f"O={DEV_CERT_ORGANIZATION}".encode() in _certificate_subject(pem):
        return True
    return path is not None and (path.parent / DEV_KEYS_MARKER).exists()


def _rsa_modulus(pem):
    """n of the RSA key in a PEM private key, public key or certificate; None otherwise."""
    loaders = (
        lambda: serialization.load_pem_private_key(pem, None).public_key(),
        lambda: serialization.load_pem_public_key(pem),
        lambda: x509.load_pem_x509_certificate(pem).public_key(),
    )
    for load in loaders:
        try:
            return load().public_numbers().n
        except (ValueError, TypeError, AttributeError, UnsupportedAlgorithm):
            continue
    return None


def _certificate_subject(pem):
    try:
        return x509.load_pem_x509_certificate(pem).subject.rfc4514_string().encode()
    except ValueError:
        return b""


def read_file(path, name):
    """The bytes of a key file named by setting ``name``; ConfigError names the setting."""
    try:
        return Path(path).read_bytes()
    except OSError:
        raise ConfigError(f"{name} names a file that cannot be read") from None
