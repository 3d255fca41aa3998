"""Hostile input never gets a 5xx: unauthenticated bodies, and genuinely signed messages from
WeChat whose content has the wrong types or lengths (issue 11, classes 1, 2 and 7)."""

import json

import pytest
import requests

from server.wechatpay import crypto
from tests.support.notifications import signed_notification, transaction_for
from tests.support.v2 import assert_refused, new_order, notification, post_notification

DEEP_JSON = b'{"code": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"  # under the 64 KiB bound
LONE_SURROGATE = b'{"code": "abc\\ud800def"}'


def assert_invalid_request(response, code="INVALID_REQUEST", status=400):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_json_nested_thousands_deep_is_a_400_everywhere(stack):
    headers = {"Content-Type": "application/json"}
    assert_invalid_request(
        requests.post(f"{stack.backend}/api/login", data=DEEP_JSON, headers=headers)
    )
    auth = stack.login()
    assert_invalid_request(
        requests.post(f"{stack.backend}/api/orders", data=DEEP_JSON, headers={**headers, **auth})
    )


def test_a_lone_surrogate_is_refused_before_any_outbound_call(stack):
    assert_invalid_request(
        requests.post(
            f"{stack.backend}/api/login",
            data=LONE_SURROGATE,
            headers={"Content-Type": "application/json"},
        )
    )
    auth = stack.login()
    body = b'{"items": [{"product_id": 1, "quantity": 1}], "note\\udfff": 1}'
    assert_invalid_request(
        requests.post(
            f"{stack.backend}/api/orders",
            data=body,
            headers={"Content-Type": "application/json", **auth},
        )
    )


def test_invalid_utf8_bytes_are_a_400(stack):
    assert_invalid_request(
        requests.post(
            f"{stack.backend}/api/login",
            data=b'{"code": "\xff"}',
            headers={"Content-Type": "application/json"},
        )
    )


def test_a_chunked_body_over_the_limit_is_413(stack):
    auth = stack.login()

    def chunks():
        yield b'{"items": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = requests.post(
        f"{stack.backend}/api/orders",
        data=chunks(),
        headers={"Content-Type": "application/json", **auth},
    )
    assert_invalid_request(response, "BODY_TOO_LARGE", 413)


@pytest.mark.parametrize("path", ["/api/orders/１", "/api/orders/١٢/pay", "/api/orders/²"])
def test_route_ids_accept_ascii_digits_only(stack, path):
    auth = stack.login()
    response = requests.request(
        "POST" if path.endswith("pay") else "GET", stack.backend + path, headers=auth
    )
    assert_invalid_request(response, "NOT_FOUND", 404)


# --- v2 XML in other encodings -----------------------------------------------------------------


@pytest.fixture
def v2_stack(make_stack):
    return make_stack(WECHATPAY_API_VERSION="v2", WECHATPAY_V2_SIGN_TYPE="MD5")


@pytest.mark.parametrize(
    "encoding", ["GBK", "Shift_JIS", "made-up-encoding", "ISO-8859-1", "UTF-16"]
)
def test_v2_xml_declaring_another_encoding_is_refused(v2_stack, encoding):
    _, created = new_order(v2_stack)
    body = notification(v2_stack, created["order"])
    declared = f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + body
    assert_refused(post_notification(v2_stack, declared))
    assert v2_stack.query("SELECT status FROM orders")[0][0] == "NOTPAY"


def test_v2_xml_declaring_utf8_is_accepted(v2_stack):
    _, created = new_order(v2_stack)
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + notification(v2_stack, created["order"])
    assert post_notification(v2_stack, body).status_code == 200
    assert v2_stack.query("SELECT status FROM orders")[0][0] == "PAID"


# --- signed messages with unexpected content ----------------------------------------------------

V3_BAD_CONTENT = {
    "amount is a list": {"amount": [1, 2]},
    "payer is a string": {"payer": "o-test"},
    "out_trade_no is a number": {"out_trade_no": 12345678},
    "out_trade_no is too long": {"out_trade_no": "9" * 33},
    "transaction_id is too long": {"transaction_id": "4" * 200},
    "transaction_id is a list": {"transaction_id": ["4200"]},
    "trade_state is an object": {"trade_state": {"SUCCESS": True}},
    "trade_state is too long": {"trade_state": "SUCCESS" * 10},
    "appid is a number": {"appid": 1},
    "success_time is a number": {"success_time": 20261122},
    "total is a string": {"amount": {"total": "1", "currency": "CNY"}},
    "total is huge": {"amount": {"total": 10**30, "currency": "CNY"}},
    "lone surrogate": {"trade_state_desc": "SURROGATE"},  # replaced by "\\ud800" below
}


@pytest.mark.parametrize("case", V3_BAD_CONTENT)
def test_a_signed_v3_notification_with_the_wrong_types_is_refused_with_a_4xx(stack, case):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    resource = transaction_for(stack.settings, order, **V3_BAD_CONTENT[case])
    headers, body = _signed_with_escapes(stack.settings, resource)
    response = requests.post(f"{stack.backend}/api/pay/notify", data=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "FAIL"
    assert stack.query("SELECT status FROM orders")[0][0] == "NOTPAY"
    assert stack.query("SELECT count(*) FROM payment_events")[0][0] == 0


def _signed_with_escapes(settings, resource):
    """A genuinely signed notification; "SURROGATE" in the resource becomes the JSON escape
    \\ud800 (a lone surrogate), which json.dumps would never write."""
    plaintext = json.dumps(resource).replace("SURROGATE", "\\ud800").encode()
    nonce = crypto.nonce(12)
    headers, body = signed_notification(settings, resource)
    envelope = json.loads(body)
    envelope["resource"].update(
        nonce=nonce,
        ciphertext=crypto.aes_gcm_encrypt(
            settings["WECHATPAY_APIV3_KEY"].encode(), nonce, plaintext, "transaction"
        ),
    )
    return signed_notification(settings, resource, body=json.dumps(envelope).encode())


@pytest.mark.parametrize("event_id", ["x" * 500, 12345, ["id"]])
def test_a_signed_v3_notification_with_a_bad_event_id_is_refused(stack, event_id):
    auth = stack.login()
    order = stack.create_order(auth).json()["order"]
    headers, body = signed_notification(stack.settings, transaction_for(stack.settings, order))
    envelope = json.loads(body)
    envelope["id"] = event_id
    headers, body = signed_notification(stack.settings, None, body=json.dumps(envelope).encode())
    response = requests.post(f"{stack.backend}/api/pay/notify", data=body, headers=headers)
    assert response.status_code == 400, response.text
    assert stack.query("SELECT status FROM orders")[0][0] == "NOTPAY"


V2_BAD_CONTENT = {
    "transaction_id is too long": {"transaction_id": "4" * 200},
    "out_trade_no is too long": {"out_trade_no": "9" * 40},
    "full-width total_fee": {"total_fee": "１"},
    "arabic-indic time_end": {"time_end": "٢٠٢٦١١٢٢١٢٣٠٠٥"},
    "openid is too long": {"openid": "o" * 300},
}


@pytest.mark.parametrize("case", V2_BAD_CONTENT)
def test_a_signed_v2_notification_with_bad_fields_is_refused(v2_stack, case):
    _, created = new_order(v2_stack)
    order = created["order"]
    changes = dict(V2_BAD_CONTENT[case])
    if "total_fee" in changes:  # the order's own amount, written in other digits
        changes["total_fee"] = str(order["total"]).translate(
            str.maketrans("0123456789", "０１２３４５６７８９")
        )
    assert_refused(post_notification(v2_stack, notification(v2_stack, order, **changes)))
    assert v2_stack.query("SELECT status FROM orders")[0][0] == "NOTPAY"


@pytest.mark.parametrize(
    "answer",
    [
        {"openid": ["o-list"], "session_key": "k"},
        {"openid": "o" * 65, "session_key": "k"},
        {"openid": "o-ok", "session_key": 12345},
        {"openid": "o-ok", "session_key": "k", "unionid": {"a": 1}},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_jscode2session_answer_is_a_503_not_a_500(stack, answer):
    stack.control("faults", kind="api", path="/sns/jscode2session", status=200, body=answer)
    response = requests.post(f"{stack.backend}/api/login", json={"code": stack.mint_code()})
    assert_invalid_request(response, "WECHAT_UNAVAILABLE", 503)
    assert stack.query("SELECT count(*) FROM users")[0][0] == 0
