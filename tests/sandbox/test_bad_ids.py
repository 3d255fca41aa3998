"""Ids of the wrong JSON type, or unparsable URLs, get the endpoint's own refusal, never a 500.

An order, refund or transaction number that is not a string (a list, an object) names no order,
as an unknown number does; a notify_url that cannot even be parsed is a malformed one.
"""

import pytest
import requests

from sandbox.pay.v2.core import from_xml, to_xml
from server.wechatpay.crypto import v2_sign
from tests.support.simulator import Merchant

NOT_STRINGS = [[1], {"a": 1}]


@pytest.fixture
def token(sandbox, sandbox_settings):
    body = {
        "grant_type": "client_credential",
        "appid": sandbox_settings["WECHAT_APPID"],
        "secret": sandbox_settings["WECHAT_SECRET"],
    }
    return requests.post(sandbox.url + "/cgi-bin/stable_token", json=body, timeout=5).json()[
        "access_token"
    ]


@pytest.mark.parametrize("value", NOT_STRINGS)
@pytest.mark.parametrize("name", ["transaction_id", "out_trade_no"])
def test_v3_refund_of_a_non_string_order_is_not_found(merchant: Merchant, name, value):
    body = {name: value, "out_refund_no": "RF-X1", "amount": {"refund": 1, "total": 1}}
    answer = merchant.request("POST", "/v3/refund/domestic/refunds", body)
    assert answer.status_code == 404 and answer.json()["code"] == "RESOURCE_NOT_EXISTS"


@pytest.mark.parametrize("value", NOT_STRINGS)
def test_apply_abnormal_refund_of_a_non_string_refund_is_not_found(merchant: Merchant, value):
    body = {"out_refund_no": value, "type": "MERCHANT_BANK_CARD"}
    answer = merchant.request("POST", "/v3/refund/domestic/refunds/1/apply-abnormal-refund", body)
    assert answer.status_code == 404 and answer.json()["code"] == "RESOURCE_NOT_EXISTS"


def test_an_unparsable_notify_url_is_a_param_error(merchant: Merchant):
    answer = merchant.place("BADURL0001", "http://[::1/notify")
    assert answer.status_code == 400 and answer.json()["detail"]["field"] == "/notify_url"


@pytest.mark.parametrize("value", NOT_STRINGS)
@pytest.mark.parametrize("name", ["transaction_id", "out_trade_no"])
def test_confirming_receipt_of_a_non_string_order(sandbox, name, value):
    answer = requests.post(sandbox.url + "/sandbox/shipping/confirm", json={name: value})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "NOT_SHIPPED"


@pytest.mark.parametrize(
    "body",
    [
        {"transaction_id": [1]},
        {"merchant_id": "1", "merchant_trade_no": {"a": 1}},
    ],
)
def test_get_order_of_a_non_string_order(sandbox, token, body):
    answer = requests.post(
        sandbox.url + "/wxa/sec/order/get_order", params={"access_token": token}, json=body
    )
    assert answer.status_code == 200 and answer.json()["errcode"] == 10060001


def test_shipping_upload_for_a_non_string_order(sandbox, token):
    body = {"order_key": {"order_number_type": 2, "transaction_id": [1]}}
    answer = requests.post(
        sandbox.url + "/wxa/sec/order/upload_shipping_info",
        params={"access_token": token},
        json=body,
    )
    assert answer.json()["errcode"] == 10060001


@pytest.mark.parametrize(
    "body",
    [
        [1],
        {"kind": "refund", "refund": 1, "out_trade_no": [1]},
        {"kind": "payment", "total": 1, "out_refund_no": {"a": 1}},
    ],
)
def test_bill_changes_with_bad_bodies_are_a_400(sandbox, body):
    answer = requests.post(sandbox.url + "/sandbox/bills/2026-01-01", json=body, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "INVALID_REQUEST"


def test_v2_unparsable_notify_url_is_a_business_error(sandbox, sandbox_settings):
    fields = {
        "appid": sandbox_settings["WECHAT_APPID"],
        "mch_id": sandbox_settings["WECHATPAY_MCHID"],
        "nonce_str": "n" * 16,
        "body": "x",
        "out_trade_no": "BADURL0002",
        "total_fee": "1",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://[::1/notify",
        "trade_type": "NATIVE",
        "product_id": "P1",
    }
    fields["sign"] = v2_sign(fields, sandbox_settings["WECHATPAY_API_KEY"])
    answer = requests.post(sandbox.url + "/pay/unifiedorder", data=to_xml(fields), timeout=5)
    assert from_xml(answer.content)["err_code"] == "INVALID_REQUEST"
