"""A real third-party SDK (wechatpayv3 by minibear2021) works against the simulator.

The only changes from production use are the keys and the base URL. wechatpayv3 hard-codes
its host in ``Core._gate_way`` with no constructor argument, so the test sets that attribute;
any SDK with a base-URL option needs nothing more.
"""

import json

import pytest

from tests.support import wait_for
from tests.support.sdk import make_sdk
from tests.support.simulator import cashier, platform_serial, start_sandbox


@pytest.mark.parametrize("public_key_mode", [False, True], ids=["certificate", "public-key"])
def test_sdk_places_queries_and_closes(
    sandbox, sandbox_settings, receiver, tmp_path, public_key_mode
):
    sdk = make_sdk(sandbox, sandbox_settings, tmp_path, public_key_mode)
    code, message = sdk.pay(
        description="SDK 测试",
        out_trade_no="SDKORDER01",
        amount={"total": 88},
        payer={"openid": "oSdkUser"},
        notify_url=receiver.url,
    )
    assert code == 200, message
    assert json.loads(message)["prepay_id"].startswith("wx")

    code, message = sdk.query(out_trade_no="SDKORDER01")
    assert code == 200 and json.loads(message)["trade_state"] == "NOTPAY"

    code, _ = sdk.close(out_trade_no="SDKORDER01")
    assert code == 204  # signed 204: the SDK verified it or it would have raised
    code, message = sdk.query(out_trade_no="SDKORDER01")
    assert json.loads(message)["trade_state"] == "CLOSED"


def test_sdk_downloads_certificates_and_reads_notifications(
    sandbox, sandbox_settings, receiver, tmp_path
):
    sdk = make_sdk(sandbox, sandbox_settings, tmp_path)
    sdk._core._update_certificates()  # GET /v3/certificates, decrypt, check validity
    assert [format(c.serial_number, "X") for c in sdk._core._certificates] == [
        platform_serial(sandbox_settings)
    ]

    code, message = sdk.pay(
        description="SDK paid",
        out_trade_no="SDKORDER02",
        amount={"total": 66},
        payer={"openid": "oSdkUser"},
        notify_url=receiver.url,
    )
    assert code == 200
    assert cashier(sandbox, json.loads(message)["prepay_id"]).status_code == 200
    wait_for(receiver.bodies)
    with receiver.lock:
        delivered = receiver.received[0]
    result = sdk.callback(delivered["headers"], delivered["body"])
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    assert result["resource"]["out_trade_no"] == "SDKORDER02"
    assert result["resource"]["amount"]["total"] == 66

    transaction_id = result["resource"]["transaction_id"]
    code, message = sdk.query(transaction_id=transaction_id)
    assert code == 200 and json.loads(message)["trade_state"] == "SUCCESS"
    code, message = sdk.close(out_trade_no="SDKORDER02")
    assert code == 400 and json.loads(message)["code"] == "ORDERPAID"


def test_sdk_with_a_public_key_only_merchant(sandbox_settings, receiver, tmp_path):
    """A merchant created today (SANDBOX_KEY_MODE=public-key), with the SDK set up as its
    README says for one: public_key and public_key_id, no certificates anywhere."""
    server = start_sandbox(
        sandbox_settings,
        SANDBOX_KEY_MODE="public-key",
        SANDBOX_PLATFORM_KEY="",
        SANDBOX_PLATFORM_CERT="",
    )
    try:
        sdk = make_sdk(server, sandbox_settings, public_key_mode=True)
        code, message = sdk.pay(
            description="公钥商户",
            out_trade_no="SDKPUBKEY1",
            amount={"total": 77},
            payer={"openid": "oSdkUser"},
            notify_url=receiver.url,
        )
        assert code == 200, message
        prepay_id = json.loads(message)["prepay_id"]
        code, message = sdk.query(out_trade_no="SDKPUBKEY1")
        assert code == 200 and json.loads(message)["trade_state"] == "NOTPAY"
        assert cashier(server, prepay_id).status_code == 200
        wait_for(receiver.bodies)
        with receiver.lock:
            delivered = receiver.received[0]
        serial = delivered["headers"]["Wechatpay-Serial"]
        assert serial == sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
        result = sdk.callback(delivered["headers"], delivered["body"])
        assert result["resource"]["out_trade_no"] == "SDKPUBKEY1"
        # No platform certificate to download, as at WeChat for such a merchant.
        code, message = sdk._core.request("/v3/certificates", skip_verify=True)
        assert code == 404 and json.loads(message)["code"] == "RESOURCE_NOT_EXISTS"
    finally:
        server.stop()
