"""The simulator's settings and keys, read and parsed once when the app is created.

Settings use the same names as the backend (see the team contract). Precedence: the dict given
to ``create_app`` wins, then the process environment, then ``.env`` in the working directory
(read only when no dict is given, so tests never pick up a developer's ``.env``).
An empty value counts as unset.

``SANDBOX_KEY_MODE`` says which keys the simulated merchant has (docs/protocol.md C4):

- ``public-key``: a merchant created since late 2024. Only the WeChat Pay public key
  (``PUB_KEY_ID_...``) signs answers and notifications, whatever the request names, and
  ``/v3/certificates`` answers 404 RESOURCE_NOT_EXISTS as WeChat does for such a merchant.
- ``certificate``: an older merchant with platform certificates only.
- ``migrating``: both. An answer is signed with the public key when the request's
  ``Wechatpay-Serial`` names it; notifications by SANDBOX_NOTIFY_PUBLIC_KEY_RATIO.

The default is ``public-key`` when the public key settings are there, else ``certificate``.
"""

import os
import random
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from server.wechatpay.crypto import certificate_serial, load_private_key, load_public_key

REQUIRED = (
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "WECHATPAY_MCHID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_CERT",
)
KEY_MODES = ("public-key", "certificate", "migrating")
PUBLIC_KEY_SETTINGS = ("WECHATPAY_PUBLIC_KEY_ID", "SANDBOX_PUBLIC_KEY_PRIVATE")
PLATFORM_SETTINGS = ("SANDBOX_PLATFORM_KEY", "SANDBOX_PLATFORM_CERT")


def load_settings(overrides=None):
    """Like the backend: an app built with explicit settings (tests) ignores ``.env``."""
    settings = {}
    if overrides is None and Path(".env").is_file():
        settings.update(dotenv_values(".env"))
    settings.update(os.environ)
    settings.update(overrides or {})
    return {key: value for key, value in settings.items() if value not in (None, "")}


@dataclass(frozen=True)
class Signer:
    """One key WeChat signs with, named the way ``Wechatpay-Serial`` names it."""

    serial: str  # platform certificate serial (hex) or PUB_KEY_ID_...
    private_key: object


@dataclass(frozen=True)
class SandboxConfig:
    appid: str
    secret: str
    mchid: str
    apiv3_key: str
    merchant_public_key: object  # verifies the merchant's v3 signatures
    merchant_serial: str
    key_mode: str  # one of KEY_MODES
    platform: Signer | None  # platform certificate (certificate and migrating modes)
    platform_cert_pem: str | None
    public_key_mode: Signer | None  # WeChat Pay public key (public-key and migrating modes)
    notify_public_key_ratio: float  # migrating: share of notifications signed with the public key
    time_scale: float  # multiplies the notification retry schedule
    notify_timeout: float  # seconds the merchant has to acknowledge (WeChat: 5)
    ca_bundle: str | None  # CA file trusted for https notify URLs
    login_rate_limit: int  # jscode2session calls per openid per minute
    # A service provider (服务商): the merchant above is then the provider (sp_mchid), its
    # bound appids (sp_appid) and its sub-merchants, each with the appids bound to it
    # (sandbox/pay/v3/partner.py, docs/simulator.md).
    sp_appids: frozenset = frozenset()
    sub_merchants: dict | None = None  # sub_mchid -> frozenset of its bound appids

    def response_signer(self, request_serial):
        """API responses. Migrating: the public key only when the request named its ID."""
        if self.key_mode == "migrating":
            named = (request_serial or "").startswith("PUB_KEY_ID_")
            return self.public_key_mode if named else self.platform
        return self.public_key_mode or self.platform

    def notification_signer(self):
        """Notifications. Migrating: the public key for a share, like WeChat's 灰度 ratio."""
        if self.key_mode == "migrating":
            chosen = random.random() < self.notify_public_key_ratio
            return self.public_key_mode if chosen else self.platform
        return self.public_key_mode or self.platform


def build_config(settings):
    missing = [name for name in REQUIRED if name not in settings]
    if missing:
        raise ValueError(f"sandbox settings missing: {', '.join(missing)}")
    apiv3_key = settings["WECHATPAY_APIV3_KEY"]
    if len(apiv3_key.encode()) != 32:
        raise ValueError("WECHATPAY_APIV3_KEY must be 32 bytes")

    has_public_key = all(settings.get(name) for name in PUBLIC_KEY_SETTINGS)
    key_mode = settings.get("SANDBOX_KEY_MODE") or (
        "public-key" if has_public_key else "certificate"
    )
    if key_mode not in KEY_MODES:
        raise ValueError(f"SANDBOX_KEY_MODE must be one of {', '.join(KEY_MODES)}")
    needed = {
        "public-key": PUBLIC_KEY_SETTINGS,
        "certificate": PLATFORM_SETTINGS,
        "migrating": PUBLIC_KEY_SETTINGS + PLATFORM_SETTINGS,
    }[key_mode]
    missing = [name for name in needed if not settings.get(name)]
    if missing:
        raise ValueError(f"SANDBOX_KEY_MODE={key_mode} needs {', '.join(missing)}")

    merchant_cert = _read(settings["WECHATPAY_CERT"])
    platform, platform_cert = None, None
    if key_mode != "public-key":
        platform_cert = _read(settings["SANDBOX_PLATFORM_CERT"])
        platform = Signer(
            certificate_serial(platform_cert),
            load_private_key(_read(settings["SANDBOX_PLATFORM_KEY"])),
        )
    public_key_mode = None
    if key_mode != "certificate":
        public_key_mode = Signer(
            settings["WECHATPAY_PUBLIC_KEY_ID"],
            load_private_key(_read(settings["SANDBOX_PUBLIC_KEY_PRIVATE"])),
        )
    ratio = float(settings.get("SANDBOX_NOTIFY_PUBLIC_KEY_RATIO", "1"))
    if not 0 <= ratio <= 1:
        raise ValueError("SANDBOX_NOTIFY_PUBLIC_KEY_RATIO must be between 0 and 1")
    time_scale = float(settings.get("SANDBOX_TIME_SCALE", "1"))
    if time_scale < 0:
        raise ValueError("SANDBOX_TIME_SCALE must not be negative")

    return SandboxConfig(
        appid=settings["WECHAT_APPID"],
        secret=settings["WECHAT_SECRET"],
        mchid=settings["WECHATPAY_MCHID"],
        apiv3_key=apiv3_key,
        merchant_public_key=load_public_key(merchant_cert),
        merchant_serial=(
            settings.get("WECHATPAY_CERT_SERIAL") or certificate_serial(merchant_cert)
        ).upper(),
        key_mode=key_mode,
        platform=platform,
        platform_cert_pem=platform_cert,
        public_key_mode=public_key_mode,
        notify_public_key_ratio=ratio,
        time_scale=time_scale,
        notify_timeout=float(settings.get("SANDBOX_NOTIFY_TIMEOUT", "5")),
        ca_bundle=settings.get("SANDBOX_CA_BUNDLE"),
        login_rate_limit=int(settings.get("SANDBOX_LOGIN_RATE_LIMIT", "100")),
        sp_appids=frozenset(
            _names(settings.get("SANDBOX_SP_APPIDS")) or [settings["WECHAT_APPID"]]
        ),
        sub_merchants=_sub_merchants(settings.get("SANDBOX_SUB_MERCHANTS")),
    )


def _names(value):
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _sub_merchants(value):
    """``SANDBOX_SUB_MERCHANTS=sub_mchid[:appid[:appid...]],...``: the sub-merchants bound
    to the provider, each with the appids bound to it (its own mini program, official
    account...), as the provider binds them on its merchant platform."""
    found = {}
    for item in _names(value):
        sub_mchid, *appids = item.split(":")
        if not sub_mchid.isdigit():
            raise ValueError(
                "SANDBOX_SUB_MERCHANTS must be sub_mchid[:appid...] separated by commas"
            )
        found[sub_mchid] = frozenset(appids)
    return found


def _read(path):
    return Path(path).read_text()
