"""The simulator's API v3: merchant signatures checked, answers signed, orders as at WeChat."""

import json
import re
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from server.wechatpay.crypto import aes_gcm_decrypt, certificate_serial, v3_authorization
from tests.support.simulator import Merchant, cashier, platform_serial, start_sandbox

NOTIFY_URL = "https://merchant.example.com/pay/notify"


def query(merchant, out_trade_no, mchid=None):
    return merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid or merchant.mchid}"
    )


def assert_sign_error(response):
    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"


# --- merchant signatures --------------------------------------------------------------------


def test_unsigned_request_is_refused(sandbox):
    response = requests.get(sandbox.url + "/v3/certificates", timeout=5)
    assert_sign_error(response)
    assert response.headers["Request-ID"]


def test_forged_signature_is_refused(merchant):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_sign_error(merchant.request("GET", "/v3/certificates", sign_key=stranger))


def test_tampered_body_is_refused(merchant):
    body = merchant.order("TAMPER0001", NOTIFY_URL, total=1)
    signed = json.dumps({**body, "amount": {"total": 100, "currency": "CNY"}}).encode()
    response = merchant.request("POST", "/v3/pay/transactions/jsapi", body, sign_body=signed)
    assert_sign_error(response)
    assert response.json()["detail"]["sign_information"]["url"] == "/v3/pay/transactions/jsapi"


def test_wrong_serial_mchid_or_stale_timestamp_is_refused(merchant):
    assert_sign_error(merchant.request("GET", "/v3/certificates", serial="1" * 40))
    assert_sign_error(merchant.request("GET", "/v3/certificates", mchid="1900000001"))
    assert_sign_error(merchant.request("GET", "/v3/certificates", timestamp=int(time.time()) - 301))


def test_query_string_is_part_of_the_signed_url(merchant):
    merchant.place("QUERYSIGN1", NOTIFY_URL)
    path = f"/v3/pay/transactions/out-trade-no/QUERYSIGN1?mchid={merchant.mchid}"
    assert_sign_error(merchant.request("GET", path, sign_path=path.split("?")[0]))
    assert merchant.request("GET", path).status_code == 200


def test_percent_encoded_path_is_signed_as_sent(merchant):
    # "|" and "*" are allowed in out_trade_no; clients percent-encode them in the path and
    # sign the encoded form, so the simulator must check the raw URI, not the decoded path.
    assert merchant.place("PIPE|STAR*1", NOTIFY_URL).status_code == 200
    answer = query(merchant, "PIPE%7CSTAR%2A1")
    assert answer.status_code == 200 and answer.json()["out_trade_no"] == "PIPE|STAR*1"


def test_authorization_items_may_come_in_any_order(sandbox, merchant):
    header = v3_authorization(
        merchant.key, merchant.mchid, merchant.serial, "GET", "/v3/certificates"
    )
    schema, items = header.split(" ", 1)
    reordered = schema + " " + ",".join(reversed(items.split(",")))
    response = requests.get(
        sandbox.url + "/v3/certificates", timeout=5, headers={"Authorization": reordered}
    )
    assert response.status_code == 200


# --- signed answers ------------------------------------------------------------------------


def test_certificates_are_signed_and_decrypt_to_the_platform_certificate(
    merchant, sandbox_settings
):
    response = merchant.request("GET", "/v3/certificates")
    assert response.status_code == 200
    assert response.headers["Request-ID"]
    assert merchant.verify(response.headers, response.content)
    assert response.headers["Wechatpay-Serial"] == platform_serial(sandbox_settings)
    (entry,) = response.json()["data"]
    encrypted = entry["encrypt_certificate"]
    assert encrypted["algorithm"] == "AEAD_AES_256_GCM"
    assert encrypted["associated_data"] == "certificate" and len(encrypted["nonce"]) == 12
    pem = aes_gcm_decrypt(
        sandbox_settings["WECHATPAY_APIV3_KEY"],
        encrypted["nonce"],
        encrypted["ciphertext"],
        "certificate",
    )
    assert pem == Path(sandbox_settings["SANDBOX_PLATFORM_CERT"]).read_bytes()
    assert entry["serial_no"] == certificate_serial(pem)
    assert entry["effective_time"].endswith("+08:00") and entry["expire_time"] > "20"


def test_a_changed_answer_no_longer_verifies(merchant):
    response = merchant.request("GET", "/v3/certificates")
    assert merchant.verify(response.headers, response.content)
    assert not merchant.verify(
        response.headers, response.content.replace(b"certificate", b"certificatf")
    )


def test_public_key_mode_signs_when_the_request_names_the_key(sandbox, sandbox_settings):
    merchant = Merchant(
        sandbox.url, sandbox_settings, serial_header=sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
    )
    response = merchant.place("PUBKEYMODE1", NOTIFY_URL)
    assert response.status_code == 200
    assert response.headers["Wechatpay-Serial"] == sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
    assert merchant.verify(response.headers, response.content)


def test_public_key_mode_off_signs_with_the_certificate(sandbox_settings):
    server = start_sandbox(
        sandbox_settings, SANDBOX_KEY_MODE="certificate", WECHATPAY_PUBLIC_KEY_ID=""
    )
    try:
        merchant = Merchant(
            server.url, sandbox_settings, serial_header=sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
        )
        response = merchant.request("GET", "/v3/certificates")
        assert response.headers["Wechatpay-Serial"] == platform_serial(sandbox_settings)
        assert merchant.verify(response.headers, response.content)
    finally:
        server.stop()


# --- orders --------------------------------------------------------------------------------


def test_place_query_and_resubmit(merchant):
    response = merchant.place("ORDER00001", NOTIFY_URL, attach="cart=7")
    assert response.status_code == 200
    prepay_id = response.json()["prepay_id"]
    assert re.fullmatch(r"wx\d{14}[0-9a-f]{20}", prepay_id)

    again = merchant.place("ORDER00001", NOTIFY_URL, attach="cart=7")
    assert again.json()["prepay_id"] == prepay_id

    changed = merchant.place("ORDER00001", NOTIFY_URL, attach="cart=7", total=101)
    assert changed.status_code == 403 and changed.json()["code"] == "OUT_TRADE_NO_USED"

    answer = query(merchant, "ORDER00001")
    assert answer.status_code == 200 and merchant.verify(answer.headers, answer.content)
    order = answer.json()
    assert order["trade_state"] == "NOTPAY" and order["trade_state_desc"]
    assert order["amount"]["total"] == 100 and order["attach"] == "cart=7"
    assert order["appid"] == merchant.appid and order["mchid"] == merchant.mchid
    assert "transaction_id" not in order


def test_unknown_order_and_wrong_mchid(merchant):
    missing = query(merchant, "NOSUCHORDER")
    assert missing.status_code == 404 and missing.json()["code"] == "ORDER_NOT_EXIST"
    by_id = merchant.request(
        "GET", f"/v3/pay/transactions/id/4200000000000000000000000000?mchid={merchant.mchid}"
    )
    assert by_id.status_code == 404 and by_id.json()["code"] == "ORDER_NOT_EXIST"
    merchant.place("ORDER00002", NOTIFY_URL)
    assert query(merchant, "ORDER00002", mchid="1900000001").status_code == 400


@pytest.mark.parametrize(
    "change, field",
    [
        ({"description": "x" * 128}, "/description"),
        ({"description": ""}, "/description"),
        ({"description": "咖啡 ☕ 🍰"}, "/description"),
        ({"out_trade_no": "abc"}, "/out_trade_no"),
        ({"out_trade_no": "ORDER#0001"}, "/out_trade_no"),
        ({"out_trade_no": "A" * 33}, "/out_trade_no"),
        ({"amount": {"total": 0}}, "/amount/total"),
        ({"amount": {"total": 1.5}}, "/amount/total"),
        ({"amount": {"total": "100"}}, "/amount/total"),
        ({"amount": {"total": 100, "currency": "USD"}}, "/amount/currency"),
        ({"payer": {}}, "/payer/openid"),
        ({"notify_url": "https://merchant.example.com/notify?order=1"}, "/notify_url"),
        ({"notify_url": "ftp://merchant.example.com/notify"}, "/notify_url"),
        ({"time_expire": "2030-01-01 10:00:00"}, "/time_expire"),
        ({"time_expire": "2030-01-01T10:00:00"}, "/time_expire"),
        ({"time_expire": "2001-01-01T10:00:00+08:00"}, "/time_expire"),
        ({"attach": "a" * 129}, "/attach"),
    ],
)
def test_invalid_order_fields(merchant, change, field):
    response = merchant.request(
        "POST", "/v3/pay/transactions/jsapi", {**merchant.order("BADORDER01", NOTIFY_URL), **change}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"
    assert response.json()["detail"]["field"] == field
    assert query(merchant, "BADORDER01").status_code == 404  # nothing half-written


def test_wrong_appid_or_mchid_in_body(merchant):
    wrong_app = merchant.request(
        "POST",
        "/v3/pay/transactions/jsapi",
        merchant.order("BADAPPID01", NOTIFY_URL, appid="wx0000000000000000"),
    )
    assert wrong_app.status_code == 400 and wrong_app.json()["code"] == "APPID_MCHID_NOT_MATCH"
    wrong_mch = merchant.request(
        "POST",
        "/v3/pay/transactions/jsapi",
        merchant.order("BADMCHID01", NOTIFY_URL, mchid="1900000001"),
    )
    assert wrong_mch.status_code == 400


def test_local_http_notify_url_and_rfc3339_expiry_are_accepted(merchant):
    response = merchant.place(
        "LOCALHTTP1",
        "http://127.0.0.1:8000/api/pay/notify",
        time_expire="2099-01-01T10:00:00+08:00",
    )
    assert response.status_code == 200


def test_close_is_signed_204_and_final(sandbox, merchant):
    prepay_id = merchant.place("CLOSEME001", NOTIFY_URL).json()["prepay_id"]
    closed = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/CLOSEME001/close", {"mchid": merchant.mchid}
    )
    assert closed.status_code == 204 and closed.content == b""
    assert merchant.verify(closed.headers, b"")
    assert query(merchant, "CLOSEME001").json()["trade_state"] == "CLOSED"
    again = merchant.place("CLOSEME001", NOTIFY_URL)
    assert again.status_code == 400 and again.json()["code"] == "ORDER_CLOSED"
    assert cashier(sandbox, prepay_id).json()["error"]["code"] == "ORDER_CLOSED"


def test_close_unknown_order(merchant):
    response = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/NOSUCHORDER/close", {"mchid": merchant.mchid}
    )
    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST"


def test_paid_order_cannot_be_closed_or_placed_again(sandbox, merchant):
    prepay_id = merchant.place("PAIDORDER1", "http://127.0.0.1:9/notify").json()["prepay_id"]
    paid = cashier(sandbox, prepay_id).json()
    assert paid["trade_state"] == "SUCCESS"

    closed = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/PAIDORDER1/close", {"mchid": merchant.mchid}
    )
    assert closed.status_code == 400 and closed.json()["code"] == "ORDERPAID"
    again = merchant.place("PAIDORDER1", "http://127.0.0.1:9/notify")
    assert again.status_code == 400 and again.json()["code"] == "ORDERPAID"

    by_id = merchant.request(
        "GET", f"/v3/pay/transactions/id/{paid['transaction_id']}?mchid={merchant.mchid}"
    )
    assert by_id.status_code == 200 and merchant.verify(by_id.headers, by_id.content)
    transaction = by_id.json()
    assert transaction["out_trade_no"] == "PAIDORDER1" and transaction["trade_state"] == "SUCCESS"
    assert re.fullmatch(r"4200\d{24}", transaction["transaction_id"])
    assert transaction["payer"]["openid"] == "oTestOpenid0000000000000001"
    assert transaction["amount"]["payer_total"] == 100 and transaction["trade_type"] == "JSAPI"
    assert transaction["success_time"].endswith("+08:00")


def test_expired_order_is_unpayable_but_closable(sandbox, merchant):
    prepay_id = merchant.place("EXPIRED001", NOTIFY_URL).json()["prepay_id"]
    requests.post(sandbox.url + "/sandbox/orders/EXPIRED001/expire", timeout=5)
    refused = cashier(sandbox, prepay_id)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "ORDER_EXPIRED"
    closed = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/EXPIRED001/close", {"mchid": merchant.mchid}
    )
    assert closed.status_code == 204


def test_native_and_h5_orders(merchant):
    body = merchant.order("NATIVE0001", NOTIFY_URL)
    del body["payer"]
    native = merchant.request("POST", "/v3/pay/transactions/native", body)
    assert native.json()["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    h5 = merchant.request(
        "POST",
        "/v3/pay/transactions/h5",
        {
            **body,
            "out_trade_no": "H5ORDER001",
            "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}},
        },
    )
    # WeChat's is on wx.tenpay.com; the simulator serves its H5 cashier itself (sandbox/pay/h5.py).
    assert h5.json()["h5_url"].startswith(merchant.base_url + "/cgi-bin/mmpayweb-bin/checkmweb?")
    stored = requests.get(merchant.base_url + "/sandbox/orders/H5ORDER001", timeout=5).json()
    assert stored["order"]["scene_info"]["payer_client_ip"] == "127.0.0.1"
    assert query(merchant, "NATIVE0001").json()["trade_state"] == "NOTPAY"


def test_unknown_resource_and_bad_json(merchant):
    assert merchant.request("POST", "/v3/pay/transactions/bogus", {}).status_code == 404
    response = merchant.request("POST", "/v3/pay/transactions/jsapi", raw=b'{"appid": ')
    assert response.status_code == 400 and response.json()["code"] == "PARAM_ERROR"
