"""A third-party SDK's refund calls (wechatpayv3) work against the simulator's v3 refunds:
the refund, its query, a retry with the same out_refund_no, the refusals, and the refund
notification, which the SDK verifies and decrypts itself."""

import json

import pytest

from tests.support import wait_for
from tests.support.sdk import make_sdk
from tests.support.simulator import cashier


@pytest.mark.parametrize("public_key_mode", [False, True], ids=["certificate", "public-key"])
def test_sdk_refunds_queries_and_reads_the_refund_notification(
    sandbox, sandbox_settings, receiver, tmp_path, public_key_mode
):
    sdk = make_sdk(sandbox, sandbox_settings, tmp_path, public_key_mode)
    code, message = sdk.pay(
        description="SDK refund",
        out_trade_no="SDKREFUND01",
        amount={"total": 1000},
        payer={"openid": "oSdkUser"},
        notify_url="http://127.0.0.1:9/n",
    )
    assert code == 200
    assert cashier(sandbox, json.loads(message)["prepay_id"]).status_code == 200

    amount = {"refund": 400, "total": 1000, "currency": "CNY"}
    code, message = sdk.refund(
        out_refund_no="SDKRF-1",
        amount=amount,
        out_trade_no="SDKREFUND01",
        reason="SDK test",
        notify_url=receiver.url,
    )
    assert code == 200, message
    created = json.loads(message)
    assert created["status"] == "PROCESSING" and created["amount"]["refund"] == 400
    code, message = sdk.refund(out_refund_no="SDKRF-1", amount=amount, out_trade_no="SDKREFUND01")
    assert code == 200 and json.loads(message)["refund_id"] == created["refund_id"]

    (body,) = wait_for(receiver.bodies)
    with receiver.lock:
        headers = receiver.received[0]["headers"]
    result = sdk.callback(headers, body)  # None if the SDK could not verify or decrypt it
    assert result["event_type"] == "REFUND.SUCCESS"
    assert result["resource"]["out_refund_no"] == "SDKRF-1"
    assert result["resource"]["refund_status"] == "SUCCESS"

    code, message = sdk.query_refund(out_refund_no="SDKRF-1")
    assert code == 200 and json.loads(message)["status"] == "SUCCESS"
    code, message = sdk.refund(
        out_refund_no="SDKRF-2",
        out_trade_no="SDKREFUND01",
        amount={"refund": 601, "total": 1000, "currency": "CNY"},
    )
    assert (code, json.loads(message)["code"]) == (400, "INVALID_REQUEST")
    code, message = sdk.refund(
        out_refund_no="SDKRF-3",
        out_trade_no="SDKREFUND01",
        amount={"refund": 1, "total": 999, "currency": "CNY"},
    )
    assert (code, json.loads(message)["code"]) == (400, "PARAM_ERROR")
