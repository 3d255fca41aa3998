"""A service provider's deployment (服务商): the provider's settings and its stores.

A deployment is **direct** (``WECHATPAY_MODE=direct``, the default: one merchant collects for
itself) or **provider** (``WECHATPAY_MODE=provider``): ``WECHATPAY_MCHID`` and the
``WECHATPAY_*`` keys are then the service provider's (its ``sp_mchid``, its API v3 / v2 keys),
and it collects for sub-merchants (特约商户), which the shop calls **stores**::

    WECHATPAY_MODE=provider
    WECHATPAY_SP_APPID=wx...            the appid bound to the provider that orders name
                                        (sp_appid; default WECHAT_APPID)
    WECHATPAY_STORES=tea,noodles        the stores, lower-case names
    WECHATPAY_STORE_TEA_SUB_MCHID=...   the store's sub_mchid (required)
    WECHATPAY_STORE_TEA_SUB_APPID=wx... the store's own appid, when its customers pay in
                                        the store's own mini program / official account
                                        (the outsourcing shape: payer sub_openid)
    WECHATPAY_STORE_TEA_NAME=...        its display name (default the name)

Each store is one more payment channel (``server/channels.py``): ``store-<name>``, JSAPI,
appid sp_appid, mchid sp_mchid, the store's sub_mchid and sub_appid, notified at
``/api/pay/notify/store-<name>``. The other ways to pay (the web shop's Native, H5 and
official account, APP, the counter) keep their one channel each, and a store lends it its
sub-merchant for one checkout (``lend``; ``channels.checkout_context(name, store)``). Its
orders record its ``sub_mchid``, which is how orders, refunds and bills are told apart per
store. docs/provider.md is the reference.

No Flask here: ``read(values)`` is called while the settings are validated.
"""

import re
from dataclasses import dataclass, replace

from .config import ConfigError

MODES = ("direct", "provider")
NAME = re.compile(r"[a-z][a-z0-9-]{0,25}")  # + "store-" stays within a channel name's 32
PREFIX = "WECHATPAY_STORE_"  # WECHATPAY_STORE_<NAME>_<FIELD>
FIELDS = ("SUB_MCHID", "SUB_APPID", "NAME")
MCHID = re.compile(r"[0-9]{6,32}")
APPID = re.compile(r"wx[0-9a-zA-Z]{8,30}")
CHANNEL_PREFIX = "store-"


@dataclass(frozen=True)
class Store:
    name: str  # lower-case, as in WECHATPAY_STORES and products.store
    title: str  # display name
    sub_mchid: str
    sub_appid: str | None = None

    @property
    def channel(self):
        return CHANNEL_PREFIX + self.name


def mode(values):
    return values.get("WECHATPAY_MODE") or "direct"


def sp_appid(values):
    return values.get("WECHATPAY_SP_APPID") or values.get("WECHAT_APPID") or ""


def row_name(name):
    return name.upper().replace("-", "_")


def read(values):
    """The stores the settings describe, in their order. ConfigError names the setting at
    fault: stores outside provider mode, a bad or repeated sub_mchid, a row for no store."""
    if mode(values) not in MODES:
        raise ConfigError("WECHATPAY_MODE must be direct or provider")
    names = [n.strip() for n in (values.get("WECHATPAY_STORES") or "").split(",") if n.strip()]
    rows = {row_name(name): name for name in names}
    for key, value in values.items():
        if key.startswith(PREFIX) and value not in (None, ""):
            rest = key[len(PREFIX) :]
            if not any(rest == f"{row}_{field}" for row in rows for field in FIELDS):
                raise ConfigError(
                    f"{key} names no store (declare it in WECHATPAY_STORES) or no field "
                    f"({', '.join(FIELDS)})"
                )
    if not names:
        return []
    if mode(values) != "provider":
        raise ConfigError("WECHATPAY_STORES needs WECHATPAY_MODE=provider (sub-merchants)")
    if len(set(names)) != len(names):
        raise ConfigError("WECHATPAY_STORES names a store twice")
    stores = []
    for name in names:
        if not NAME.fullmatch(name):
            raise ConfigError(
                "WECHATPAY_STORES must name stores in lower-case letters, digits and '-' "
                "(at most 26, starting with a letter), separated by commas"
            )
        key = f"{PREFIX}{row_name(name)}_"
        sub_mchid = values.get(key + "SUB_MCHID") or ""
        if not MCHID.fullmatch(sub_mchid):
            raise ConfigError(f"{key}SUB_MCHID is required: the store's sub_mchid (digits)")
        if sub_mchid == values.get("WECHATPAY_MCHID"):
            raise ConfigError(f"{key}SUB_MCHID is the provider's own mchid (sp_mchid)")
        sub_appid = values.get(key + "SUB_APPID") or None
        if sub_appid is not None and not APPID.fullmatch(sub_appid):
            raise ConfigError(f"{key}SUB_APPID must be an appid (wx...)")
        title = (values.get(key + "NAME") or name)[:64]
        stores.append(Store(name=name, title=title, sub_mchid=sub_mchid, sub_appid=sub_appid))
    if len({s.sub_mchid for s in stores}) != len(stores):
        raise ConfigError("two stores have the same SUB_MCHID")
    return stores


def channel_defaults(values):
    """{channel name: its defaults} for ``channels.read``: one JSAPI channel per store."""
    return {
        store.channel: {
            "trade_type": "JSAPI",
            "appid": sp_appid(values),
            "sub_mchid": store.sub_mchid,
            "sub_appid": store.sub_appid,
        }
        for store in read(values)
    }


def lend(store, channel, sp_appid):
    """``channel`` (a way to pay: Native, H5, APP, the official account, the counter) placing
    orders for ``store``: the store's sub_mchid; and when the channel's appid is the store's
    own (``SUB_APPID``: the customer pays in the sub-merchant's app or official account), that
    appid as sub_appid and the provider's ``sp_appid`` as the order's appid, as the store's own
    channel does. Otherwise the channel's appid is the order's sp_appid (bound to the
    provider) and there is no sub_appid. One channel per product, whatever the stores."""
    if store.sub_appid and store.sub_appid == channel.appid:
        return replace(
            channel, appid=sp_appid, sub_mchid=store.sub_mchid, sub_appid=store.sub_appid
        )
    return replace(channel, sub_mchid=store.sub_mchid, sub_appid=None)


def by_name(stores, name):
    return next((s for s in stores if s.name == name), None)


def by_sub_mchid(stores, sub_mchid):
    return next((s for s in stores if s.sub_mchid == sub_mchid), None)
