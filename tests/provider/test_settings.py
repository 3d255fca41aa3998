"""A service provider's settings (server/stores.py): each store is a channel with its
sub-merchant's ids; what cannot work stops the app, naming the setting."""

import pytest

from server import config
from server.channels import read
from server.config import ConfigError
from server.stores import lend
from server.stores import read as read_stores

from .support import CENTRALISED, NOODLES, TEA

NO_NOODLES = {"WECHATPAY_STORE_NOODLES_SUB_MCHID": "", "WECHATPAY_STORE_NOODLES_NAME": ""}


def test_each_store_is_a_channel_of_the_provider(dev_keys):
    values = config.load(
        {
            **dev_keys,
            **CENTRALISED,
            "WECHATPAY_STORE_TEA_SUB_APPID": "wxteashop0000001",
            "WECHATPAY_NOTIFY_URL": "https://shop.example.com/api/pay/notify",
        }
    )
    channels = {channel.name: channel for channel in read(values)}
    tea = channels["store-tea"]
    assert (tea.trade_type, tea.appid, tea.mchid, tea.sub_mchid, tea.sub_appid) == (
        "JSAPI",
        dev_keys["WECHAT_APPID"],
        dev_keys["WECHATPAY_MCHID"],
        TEA,
        "wxteashop0000001",
    )
    assert tea.notify_url == "https://shop.example.com/api/pay/notify/store-tea"
    assert [s.title for s in read_stores(values)] == ["茶铺", "面馆"]
    # The sp_appid orders name can be another appid bound to the provider.
    values = config.load({**dev_keys, **CENTRALISED, "WECHATPAY_SP_APPID": "wxprovider00000001"})
    assert {c.appid for c in read(values) if c.sub_mchid} == {"wxprovider00000001"}


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"WECHATPAY_MODE": "partner"}, "WECHATPAY_MODE"),
        ({"WECHATPAY_MODE": "direct"}, "WECHATPAY_STORES needs WECHATPAY_MODE=provider"),
        ({"WECHATPAY_STORE_TEA_SUB_MCHID": ""}, "WECHATPAY_STORE_TEA_SUB_MCHID"),
        ({"WECHATPAY_STORE_TEA_SUB_MCHID": "abc"}, "WECHATPAY_STORE_TEA_SUB_MCHID"),
        ({"WECHATPAY_STORE_NOODLES_SUB_MCHID": TEA}, "same SUB_MCHID"),
        ({"WECHATPAY_STORE_TEA_SUB_APPID": "not-an-appid"}, "WECHATPAY_STORE_TEA_SUB_APPID"),
        ({"WECHATPAY_STORE_TAE_NAME": "typo"}, "WECHATPAY_STORE_TAE_NAME names no store"),
        ({"WECHATPAY_STORES": "tea,tea", **NO_NOODLES}, "twice"),
        ({"WECHATPAY_STORES": "Tea", **NO_NOODLES}, "lower-case"),
    ],
)
def test_what_cannot_work_stops_the_app(dev_keys, bad, named):
    with pytest.raises(ConfigError, match=named):
        config.load({**dev_keys, **CENTRALISED, **bad})


def test_the_sub_mchid_must_not_be_the_providers_own(dev_keys):
    with pytest.raises(ConfigError, match="provider's own mchid"):
        config.load(
            {
                **dev_keys,
                **CENTRALISED,
                "WECHATPAY_STORE_TEA_SUB_MCHID": dev_keys["WECHATPAY_MCHID"],
            }
        )


def test_production_needs_stores_in_provider_mode(production):
    config.load({**production, **CENTRALISED})  # starts
    without = {**CENTRALISED, "WECHATPAY_STORES": ""}
    without = {k: v for k, v in without.items() if not k.startswith("WECHATPAY_STORE_")}
    with pytest.raises(ConfigError, match="WECHATPAY_STORES is required in production"):
        config.load({**production, **without})


def test_a_store_lends_its_sub_merchant_to_a_products_channel(dev_keys):
    """One channel per product: a store lends it its sub_mchid, and its own appid (sub_appid)
    only when that is the channel's: the customer then pays in the sub-merchant's official
    account (payer sub_openid) and the order names the provider's sp_appid."""
    oa_appid, sp_appid = "wxteaofficial0001", "wxprovider0000001"
    values = config.load(
        {
            **dev_keys,
            **CENTRALISED,
            "WECHAT_OA_APPID": oa_appid,
            "WECHATPAY_SP_APPID": sp_appid,
            "WECHATPAY_STORE_TEA_SUB_APPID": oa_appid,
        }
    )
    channels = {channel.name: channel for channel in read(values)}
    tea, noodles = read_stores(values)
    own = lend(tea, channels["official-account"], sp_appid)
    assert (own.name, own.appid, own.sub_mchid, own.sub_appid) == (
        "official-account",
        sp_appid,
        TEA,
        oa_appid,
    )
    # The provider's own official account (bound to it) for a store without that appid.
    theirs = lend(noodles, channels["official-account"], sp_appid)
    assert (theirs.appid, theirs.sub_mchid, theirs.sub_appid) == (oa_appid, NOODLES, None)
    # Native: the channel's appid is sp_appid; the tea store's own appid is not this one.
    native = lend(tea, channels["native"], sp_appid)
    assert (native.appid, native.sub_mchid, native.sub_appid) == (
        channels["native"].appid,
        TEA,
        None,
    )
