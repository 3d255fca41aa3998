"""The ways to pay: channels, the merchants they collect for, and each order's gateway.

A **merchant** is one mchid with its credentials: API v3 (private key, serial, APIv3 key, WeChat
Pay public key or platform certificates) and/or API v2 (API key, sign type, client certificate).
Today's settings describe one, ``WECHATPAY_MCHID`` with the ``WECHATPAY_*`` keys; a service
provider's deployment has the same shape (its mchid and keys; its sub-merchants are channels).
A gateway is built per (merchant, API version), once per process: keys parsed, HTTP session
pooled, platform certificates cached, and shared by every channel and order of that merchant
and version (each use bound to its appid: ``wechatpay.core.types.bound``). A merchant with v3
and v2 credentials at once (``WECHATPAY_API_KEY`` beside the v3 keys) has both gateways.

A **channel** is one way to pay, named (``Channel``): WeChat's trade type, the appid and mchid
orders are placed for (and a sub-merchant's ids), the API version, and the notify URLs. With
today's settings there is exactly one, ``miniprogram``: JSAPI with ``WECHAT_APPID``,
``WECHATPAY_MCHID`` and ``WECHATPAY_API_VERSION``, notified at ``WECHATPAY_NOTIFY_URL`` and
``WECHATPAY_REFUND_NOTIFY_URL``. More come from settings, one row each (docs/channels.md):

    WECHATPAY_CHANNELS=name[,name...]               channels declared by settings alone
    WECHATPAY_CHANNEL_<NAME>_TRADE_TYPE             JSAPI (default), NATIVE, MWEB, APP, MICROPAY
    WECHATPAY_CHANNEL_<NAME>_APPID                  default WECHAT_APPID
    WECHATPAY_CHANNEL_<NAME>_MCHID                  default WECHATPAY_MCHID
    WECHATPAY_CHANNEL_<NAME>_API_VERSION            default WECHATPAY_API_VERSION
    WECHATPAY_CHANNEL_<NAME>_NOTIFY_URL             default <host of WECHATPAY_NOTIFY_URL>
                                                    /api/pay/notify/<name>
    WECHATPAY_CHANNEL_<NAME>_REFUND_NOTIFY_URL      default .../api/refund/notify/<name>

(``<NAME>`` is the name in capitals, ``-`` as ``_``.) The same row changes a channel a builder
made: ``WECHATPAY_CHANNEL_MINIPROGRAM_API_VERSION=v2`` keeps the mini program on v2 while
``WECHATPAY_API_VERSION`` (the default of every other channel) is v3. A product adds its
channel with a **builder**: a function of the settings returning the channel's defaults (or
None while its own settings are absent), listed in ``BUILDERS`` (the official account's
JSAPI from its appid, Native, H5, APP, the counter, a service provider's stores...).

An order records the channel it was placed with (``server/models/orders.py``), and everything
after checkout gets its gateway and ids from the order: ``payment_context(order)``. So a
channel whose settings change later (another API version, another appid) still serves the
orders it placed as they were placed, and v3 and v2 orders live side by side.
"""

import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import UnsupportedAlgorithm
from flask import current_app

from . import stores
from .config import ConfigError, read_file, required_names
from .domain import storefront
from .domain.checkout import PaymentContext, merge_lines
from .errors import DomainError
from .wechatpay import crypto
from .wechatpay.core.http import new_http_session, with_budget
from .wechatpay.core.types import bound
from .wechatpay.v2.client import client_cert_session

log = logging.getLogger(__name__)

# How long a request a user waits on gives WeChat to answer a query.
QUICK_QUERY_SECONDS = 2.0

DEFAULT = "miniprogram"  # the channel of /api/pay/notify and /api/refund/notify
TRADE_TYPES = ("JSAPI", "NATIVE", "MWEB", "APP", "MICROPAY")
API_VERSIONS = ("v3", "v2")
NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
ROW = "WECHATPAY_CHANNEL_"  # WECHATPAY_CHANNEL_<NAME>_<FIELD>
FIELDS = ("TRADE_TYPE", "APPID", "MCHID", "API_VERSION", "NOTIFY_URL", "REFUND_NOTIFY_URL")
PAY_NOTIFY_PATH, REFUND_NOTIFY_PATH = "/api/pay/notify", "/api/refund/notify"


@dataclass(frozen=True)
class Channel:
    """One way to pay. ``trade_type`` is WeChat's (JSAPI, NATIVE, MWEB, APP, MICROPAY)."""

    name: str
    trade_type: str
    appid: str
    mchid: str
    api_version: str  # v3 | v2
    notify_url: str
    refund_notify_url: str
    sub_mchid: str | None = None  # a service provider's sub-merchant (and its own appid)
    sub_appid: str | None = None


# --- channels from settings -------------------------------------------------------------------


def miniprogram(values):
    """The mini program's JSAPI payments (wx.requestPayment), notified at the settings' URLs
    (merchants have them registered: they never change)."""
    return {
        "trade_type": "JSAPI",
        "notify_url": values.get("WECHATPAY_NOTIFY_URL") or "",
        "refund_notify_url": values.get("WECHATPAY_REFUND_NOTIFY_URL") or "",
    }


def counter(values):
    """The counter's payment codes (付款码, docs/counter.md): MICROPAY, no notifications
    (WeChat sends none for them); the gateway of WECHATPAY_CHANNEL_COUNTER_API_VERSION."""
    return {"trade_type": "MICROPAY"}


def native(values):
    """The web shop's QR code on a desktop (docs/web-shop.md): Native, for the appid of
    WECHATPAY_CHANNEL_NATIVE_APPID (any appid bound to the merchant; default WECHAT_APPID),
    notified at /api/pay/notify/native."""
    return {"trade_type": "NATIVE"}


def h5(values):
    """The web shop in a phone's browser outside WeChat (docs/web-shop.md): H5 (MWEB), for the
    appid of WECHATPAY_CHANNEL_H5_APPID (default WECHAT_APPID), at /api/pay/notify/h5. The
    H5 domain is configured on the merchant platform, not here."""
    return {"trade_type": "MWEB"}


OFFICIAL_ACCOUNT = "official-account"


def official_account(values):
    """The web shop inside WeChat (docs/web-shop.md): JSAPI for the official account's appid
    (WECHAT_OA_APPID; its openids come from web authorisation), at
    /api/pay/notify/official-account. None without WECHAT_OA_APPID."""
    appid = values.get("WECHAT_OA_APPID")
    return {"trade_type": "JSAPI", "appid": appid} if appid else None


def app(values):
    """A native app's payments (POST /api/app/orders, docs/web-shop.md): APP for the mobile
    app's appid (WECHAT_APP_APPID, from the open platform), at /api/pay/notify/app. None
    without WECHAT_APP_APPID."""
    appid = values.get("WECHAT_APP_APPID")
    return {"trade_type": "APP", "appid": appid} if appid else None


# name -> builder(settings) -> the channel's defaults (None: its product is not configured).
# What a builder leaves out comes from the general settings (below); a settings row
# (WECHATPAY_CHANNEL_<NAME>_*) wins over both.
BUILDERS = {
    DEFAULT: miniprogram,
    "counter": counter,
    "native": native,
    "h5": h5,
    OFFICIAL_ACCOUNT: official_account,
    "app": app,
}


def row_name(name):
    """The channel's part of its settings' names: ``counter-v2`` -> ``COUNTER_V2``."""
    return name.upper().replace("-", "_")


def read(values):
    """Every channel the settings describe, the default first. ConfigError names the setting
    at fault (an unknown trade type, a row for no channel, a bad notify URL...)."""
    declared = [n.strip() for n in (values.get("WECHATPAY_CHANNELS") or "").split(",")]
    declared = [n for n in declared if n]
    for name in declared:
        if not NAME.fullmatch(name):
            raise ConfigError(
                "WECHATPAY_CHANNELS must name channels in lower-case letters, digits and '-' "
                "(at most 32, starting with a letter), separated by commas"
            )
        if name in BUILDERS:
            raise ConfigError(f"WECHATPAY_CHANNELS: {name} is a built-in channel already")
    if len(set(declared)) != len(declared):
        raise ConfigError("WECHATPAY_CHANNELS names a channel twice")
    defaults = {name: build(values) for name, build in BUILDERS.items()}
    defaults.update({name: {} for name in declared})
    for name, found in stores.channel_defaults(values).items():  # a provider's sub-merchants
        if name in defaults:
            raise ConfigError(f"WECHATPAY_CHANNELS: {name} is a store's channel already")
        defaults[name] = found
    defaults = {name: found for name, found in defaults.items() if found is not None}
    rows = {row_name(name): name for name in defaults}
    for key in values:
        if key.startswith(ROW) and values[key] not in (None, "") and not _is_row(key, rows):
            raise ConfigError(
                f"{key} names no channel (declare it in WECHATPAY_CHANNELS) or no field "
                f"({', '.join(FIELDS)})"
            )
    channels = [_channel(name, found, values) for name, found in defaults.items()]
    merchants = merchant_settings(values)
    for channel in channels:
        if merchants and channel.mchid not in merchants:
            raise ConfigError(
                f"{ROW}{row_name(channel.name)}_MCHID names a merchant whose credentials are "
                "not configured here (WECHATPAY_MCHID's are)"
            )
    return channels


def _is_row(key, rows):
    """Whether ``key`` is WECHATPAY_CHANNEL_<NAME>_<FIELD> of a channel there is."""
    return any(
        key.endswith("_" + field) and key[len(ROW) : -len(field) - 1] in rows for field in FIELDS
    )


def _channel(name, found, values):
    def setting(field, fallback):
        key = f"{ROW}{row_name(name)}_{field}"
        return values.get(key) or found.get(field.lower()) or fallback, key

    trade_type, key = setting("TRADE_TYPE", "JSAPI")
    if trade_type not in TRADE_TYPES:
        raise ConfigError(f"{key} must be one of {', '.join(TRADE_TYPES)}")
    api_version, key = setting("API_VERSION", values.get("WECHATPAY_API_VERSION") or "v3")
    if api_version not in API_VERSIONS:
        raise ConfigError(f"{key} must be v3 or v2")
    notify_url, _ = setting("NOTIFY_URL", _derived(values, PAY_NOTIFY_PATH, name))
    refund_notify_url, _ = setting("REFUND_NOTIFY_URL", _derived(values, REFUND_NOTIFY_PATH, name))
    return Channel(
        name=name,
        trade_type=trade_type,
        appid=setting("APPID", values.get("WECHAT_APPID") or "")[0],
        mchid=setting("MCHID", values.get("WECHATPAY_MCHID") or "")[0],
        api_version=api_version,
        notify_url=notify_url,
        refund_notify_url=refund_notify_url,
        sub_mchid=found.get("sub_mchid"),
        sub_appid=found.get("sub_appid"),
    )


def _derived(values, path, name):
    """``path/<name>`` on the scheme and host of WECHATPAY_NOTIFY_URL ("" without it)."""
    base = values.get("WECHATPAY_NOTIFY_URL")
    if not base:
        return ""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/{name}", "", ""))


def notify_url_settings(values):
    """(setting, URL) of every channel's notify URLs, for the checks config.py makes."""
    found = []
    for channel in read(values):
        for field, url in (
            ("NOTIFY_URL", channel.notify_url),
            ("REFUND_NOTIFY_URL", channel.refund_notify_url),
        ):
            if channel.name == DEFAULT and values.get(f"WECHATPAY_{field}") == url:
                key = f"WECHATPAY_{field}"
            else:
                key = f"{ROW}{row_name(channel.name)}_{field}"
            if url:
                found.append((key, url))
    return found


# --- merchants and their gateways ------------------------------------------------------------


def merchant_settings(values):
    """{mchid: the settings its credentials are read from}: today one merchant,
    WECHATPAY_MCHID with the WECHATPAY_* keys (a service provider's too)."""
    mchid = values.get("WECHATPAY_MCHID")
    return {mchid: values} if mchid else {}


def build_gateway(values, session, timeout, version=None):
    """The gateway of the settings' merchant for API ``version`` (default
    WECHATPAY_API_VERSION), placing orders for WECHAT_APPID until it is ``bound`` to another
    appid. Keys are read and parsed here; ConfigError names a setting that cannot be used."""
    version = version or values["WECHATPAY_API_VERSION"]
    provider = stores.mode(values) == "provider"  # the partner APIs, as sp_mchid
    if version == "v2":
        from .wechatpay.v2 import V2Gateway, V2PartnerGateway

        return (V2PartnerGateway if provider else V2Gateway)(
            appid=values.get("WECHAT_APPID") or "",
            mchid=values["WECHATPAY_MCHID"],
            api_key=values["WECHATPAY_API_KEY"],
            sign_type=values["WECHATPAY_V2_SIGN_TYPE"],
            api_base=values["WECHATPAY_API_BASE"],
            session=session,
            timeout=timeout,
            backup_base=values.get("WECHATPAY_API_BASE_BACKUP"),
            cert_session=_v2_cert_session(values),
        )

    from .wechatpay.v3 import V3Gateway, V3PartnerGateway
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
    return (V3PartnerGateway if provider else V3Gateway)(
        appid=values.get("WECHAT_APPID") or "",
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


class Channels:
    """One app's channels and merchant gateways (``app.extensions["channels"]``).

    The gateways of the (merchant, version) pairs the channels use are built at start-up, so a
    key that cannot be used stops the app there. Another version of a configured merchant
    (orders placed before its channel changed version) is built on first use, if its
    credentials are there. Without a merchant's settings the app still starts (catalogue,
    login), and what needs its gateway answers PAYMENTS_NOT_CONFIGURED, naming what is missing
    in the log.
    """

    def __init__(self, values, session=None, timeout=None):
        self.values = values
        self.session = session or new_http_session()
        self.timeout = float(timeout or values["WECHAT_HTTP_TIMEOUT_SECONDS"])
        self.channels = {channel.name: channel for channel in read(values)}
        self.provider = stores.mode(values) == "provider"
        self.stores = stores.read(values)  # a service provider's sub-merchants
        self.merchants = merchant_settings(values)
        self._gateways = {}  # (mchid, version) -> gateway, or None with what is missing
        self._missing = {}
        self._views = {}  # (mchid, version, appid, sub_mchid, sub_appid, quick) -> gateway
        self._lock = threading.Lock()
        for channel in self.channels.values():
            self._build(channel.mchid, channel.api_version)

    @property
    def default(self):
        return self.channels[DEFAULT]

    def _build(self, mchid, version, lazily=False):
        key = (mchid, version)
        if key in self._gateways:
            return self._gateways[key]
        values = self.merchants.get(mchid) or (None if mchid else self.values)
        if values is None:
            missing = [f"the credentials of merchant {mchid} (WECHATPAY_MCHID is another)"]
        else:
            values = {**values, "WECHATPAY_API_VERSION": version}
            missing = [name for name in required_names(values) if not values.get(name)]
        gateway = None
        if not missing:
            try:
                gateway = build_gateway(values, self.session, self.timeout, version)
            except ConfigError as exc:
                if not lazily:
                    raise
                missing = [str(exc)]
        self._gateways[key], self._missing[key] = gateway, missing
        return gateway

    def gateway(self, mchid, version, appid, sub_mchid=None, sub_appid=None, quick=False):
        """The merchant's gateway for ``version``, bound to these ids; ``quick``: with the
        short budget of a call a user waits on. PAYMENTS_NOT_CONFIGURED without one."""
        key = (mchid, version, appid, sub_mchid, sub_appid, quick)
        view = self._views.get(key)
        if view is not None:
            return view
        with self._lock:
            base = self._build(mchid, version, lazily=True)
            if base is None:
                log.error(
                    "payments disabled for merchant %s (API %s); missing settings: %s",
                    mchid or "-",
                    version,
                    ", ".join(self._missing[(mchid, version)]),
                )
                raise DomainError("PAYMENTS_NOT_CONFIGURED", "payments are not configured")
            view = bound(base, appid, sub_mchid, sub_appid)
            if quick:
                # Reading an order may ask WeChat about it while the user waits; a slow WeChat
                # must not hold the worker (or the user) for long: a short budget, no retry.
                view = with_budget(view, min(self.timeout, QUICK_QUERY_SECONDS))
            self._views[key] = view
        return view

    def channel_gateway(self, channel, quick=False):
        return self.gateway(
            channel.mchid,
            channel.api_version,
            channel.appid,
            channel.sub_mchid,
            channel.sub_appid,
            quick,
        )

    def configured(self, channel):
        """Whether ``channel``'s merchant gateway is there."""
        with self._lock:
            return self._build(channel.mchid, channel.api_version, lazily=True) is not None


def init_app(app):
    registry = Channels(app.config)
    app.extensions["channels"] = registry
    # The default channel's gateway, for the doctor and tests that talk to WeChat Pay
    # directly; the app itself asks for an order's (``payment_context``).
    default = registry.default
    app.extensions["wechatpay"] = (
        registry.channel_gateway(default) if registry.configured(default) else None
    )


def registry():
    return current_app.extensions["channels"]


def get(name):
    """The channel named ``name``; CHANNEL_NOT_FOUND for a name the settings do not have."""
    channel = registry().channels.get(name)
    if channel is None:
        raise DomainError("CHANNEL_NOT_FOUND", f"no payment channel {name[:32]!r} here")
    return channel


def all_channels():
    return list(registry().channels.values())


def is_provider():
    """Whether this deployment is a service provider's (WECHATPAY_MODE=provider)."""
    return registry().provider


def all_stores():
    """A service provider's stores (``stores.Store``), in the settings' order; [] if direct."""
    return list(registry().stores)


def store_named(name):
    return stores.by_name(registry().stores, name)


def store_of(lines):
    """The store a checkout of ``lines`` ([(product id, quantity)]) is for: the one selling
    them all in a service provider's deployment (PRODUCT_NOT_FOUND, CART_SPANS_STORES:
    ``storefront.store_of``); None in a direct merchant's."""
    if not is_provider():
        return None
    return storefront.store_of(merge_lines(lines), all_stores())


def store_of_order(order):
    """The store an order was placed for (by its sub_mchid), or None."""
    return stores.by_sub_mchid(registry().stores, order.sub_mchid) if order.sub_mchid else None


def _context(channel, ids, *, gateway, quick_gateway):
    config = current_app.config
    return PaymentContext(
        gateway=gateway,
        quick_gateway=quick_gateway,
        appid=ids.appid,
        mchid=ids.mchid,
        notify_url=channel.notify_url,
        refund_notify_url=channel.refund_notify_url,
        order_timeout_minutes=int(config["ORDER_TIMEOUT_MINUTES"]),
        channel=channel.name,
        trade_type=ids.trade_type,
        api_version=ids.api_version,
        sub_mchid=ids.sub_mchid,
        sub_appid=ids.sub_appid,
        shop_language=config.get("SHOP_LANGUAGE", "zh_Hans"),
    )


def checkout_context(name=DEFAULT, store=None):
    """What checkout needs to place a new order on channel ``name`` (the mini program's by
    default), for a service provider's ``store`` (``stores.Store``: it lends the channel its
    sub-merchant, ``stores.lend``). In a provider's deployment every order is a store's:
    STORE_REQUIRED without one (a store's own channel has it). Without its merchant's settings
    the gateways are None, and checkout answers PAYMENTS_NOT_CONFIGURED."""
    channels = registry()
    channel = get(name)
    if store is not None:
        channel = stores.lend(store, channel, stores.sp_appid(current_app.config))
    elif channels.provider and not channel.sub_mchid:
        raise DomainError(
            "STORE_REQUIRED", "a service provider's order is one of its stores': name the store"
        )
    try:
        gateway = channels.channel_gateway(channel)
        quick = channels.channel_gateway(channel, quick=True)
    except DomainError:  # logged, naming what is missing
        gateway = quick = None
    return _context(channel, channel, gateway=gateway, quick_gateway=quick)


def payment_context(order):
    """The gateway and ids to use for ``order``, from what the order recorded at checkout:
    the gateway of its merchant and API version, bound to its appid (and sub-merchant ids);
    the notify URLs of its channel. PAYMENTS_NOT_CONFIGURED when that merchant has no
    credentials for that version here."""
    channels = registry()
    channel = channels.channels.get(order.channel) or _former(order)
    ids = (order.mchid, order.api_version, order.appid, order.sub_mchid, order.sub_appid)
    return _context(
        channel,
        order,
        gateway=channels.gateway(*ids),
        quick_gateway=channels.gateway(*ids, quick=True),
    )


def _former(order):
    """A channel that is no longer configured: its orders are still served, notified at the
    URLs it would have had."""
    values = current_app.config
    return Channel(
        name=order.channel,
        trade_type=order.trade_type,
        appid=order.appid,
        mchid=order.mchid,
        api_version=order.api_version,
        notify_url=_derived(values, PAY_NOTIFY_PATH, order.channel),
        refund_notify_url=_derived(values, REFUND_NOTIFY_PATH, order.channel),
        sub_mchid=order.sub_mchid,
        sub_appid=order.sub_appid,
    )


def notification_gateway(name):
    """The gateway that verifies what WeChat posts to channel ``name``'s notify URLs."""
    return registry().channel_gateway(get(name))


def merchant_gateways():
    """[(mchid, gateway)]: one gateway per merchant the channels collect for (the version of
    its first channel: a merchant's bill is the same through either), for what is the
    merchant's rather than an order's (the daily bill); then a service provider's stores,
    (sub_mchid, the gateway bound to the store: its part of the provider's bill).
    PAYMENTS_NOT_CONFIGURED when none."""
    channels, found = registry(), {}
    for channel in channels.channels.values():
        if channel.mchid not in found and channels.configured(channel):
            found[channel.mchid] = channels.gateway(
                channel.mchid, channel.api_version, channel.appid
            )
    if not found:
        channels.gateway(channels.default.mchid, channels.default.api_version, "")  # raises
    # A service provider's bill again per store: its sub-merchant's lines (sub_mchid).
    for store in channels.stores:
        channel = channels.channels[store.channel]
        if channels.configured(channel):
            found[store.sub_mchid] = channels.channel_gateway(channel)
    return list(found.items())
