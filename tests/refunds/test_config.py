"""Refund settings: the refund notification URL and the user's refund requests."""

import pytest

from server.config import ConfigError, load


def settings(**values):
    return {"WECHATPAY_NOTIFY_URL": "https://pay.example.com/api/pay/notify", **values}


def test_the_refund_notify_url_follows_the_payment_one_unless_set():
    assert (
        load(settings())["WECHATPAY_REFUND_NOTIFY_URL"]
        == "https://pay.example.com/api/refund/notify"
    )
    own = "https://refunds.example.com/wx/refund"
    assert load(settings(WECHATPAY_REFUND_NOTIFY_URL=own))["WECHATPAY_REFUND_NOTIFY_URL"] == own
    values = load(settings())
    assert (values["REFUND_REQUESTS_ENABLED"], values["REFUND_REQUEST_WINDOW_DAYS"]) == (
        "true",
        "7",
    )


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("WECHATPAY_REFUND_NOTIFY_URL", "https://pay.example.com/r?x=1", "query string"),
        ("REFUND_REQUESTS_ENABLED", "yes", "true or false"),
        ("REFUND_REQUEST_WINDOW_DAYS", "7.5", "whole number"),
    ],
)
def test_bad_refund_settings_are_refused_by_name(name, value, message):
    with pytest.raises(ConfigError, match=message) as refused:
        load(settings(**{name: value}))
    assert name in str(refused.value)


def test_production_wants_an_https_refund_notify_url(production):
    assert load(production)["WECHATPAY_REFUND_NOTIFY_URL"].startswith("https://")
    production["WECHATPAY_REFUND_NOTIFY_URL"] = "http://pay.example.com/api/refund/notify"
    with pytest.raises(ConfigError, match="WECHATPAY_REFUND_NOTIFY_URL"):
        load(production)
