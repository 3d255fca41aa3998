"""The simulator's payment code (v3 codepay, v2 micropay and reverse), spoken to raw: each
customer behaviour the auth code chooses (sandbox/pay/codepay.py, docs/simulator.md)."""

import itertools
import time

import pytest
import requests

from server.wechatpay import crypto
from server.wechatpay.v2.messages import xml_to_dict
from tests.support.v2 import signed

_numbers = itertools.count(1)
PAYS, NOTENOUGH, EXPIRED, INVALID = (
    "134567890123456789",
    "130200000000000001",
    "130300000000000001",
    "130400000000000001",
)
SYSTEMERROR, BANKERROR = "130500000000000001", "130600000000000001"


def pin_pays(tenths):
    return f"1300{tenths:03d}00000000001"


def walks_away(tenths):
    return f"1301{tenths:03d}00000000001"


def number():
    return f"CODEPAY{time.time_ns()}{next(_numbers)}"


def codepay(merchant, auth_code, total=100, out_trade_no=None):
    body = {
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "description": "柜台",
        "out_trade_no": out_trade_no or number(),
        "payer": {"auth_code": auth_code},
        "amount": {"total": total, "currency": "CNY"},
        "scene_info": {"device_ip": "127.0.0.1"},
    }
    response = merchant.request("POST", "/v3/pay/transactions/codepay", body)
    assert merchant.verify(response.headers, response.content)
    return body["out_trade_no"], response


def query(merchant, out_trade_no):
    response = merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={merchant.mchid}"
    )
    return response.json()


def reverse(merchant, out_trade_no):
    return merchant.request(
        "POST",
        f"/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse",
        {"appid": merchant.appid, "mchid": merchant.mchid},
    )


def test_v3_pays_at_once_as_micropay_with_no_notification(merchant, sandbox):
    out_trade_no, response = codepay(merchant, PAYS)
    assert response.status_code == 200
    paid = response.json()
    assert paid["trade_state"] == "SUCCESS" and paid["trade_type"] == "MICROPAY"
    assert paid["transaction_id"] and paid["payer"]["openid"]
    assert query(merchant, out_trade_no)["trade_type"] == "MICROPAY"
    time.sleep(0.2)
    notes = requests.get(sandbox.url + "/sandbox/notifications", timeout=5).json()
    assert notes["notifications"] == []


def test_v3_pin_answer_carries_only_the_state_then_pays(merchant):
    out_trade_no, response = codepay(merchant, pin_pays(3))
    assert response.status_code == 202 and response.json() == {"trade_state": "USERPAYING"}
    assert query(merchant, out_trade_no)["trade_state"] == "USERPAYING"
    refused = reverse(merchant, out_trade_no)
    assert refused.status_code == 400 and refused.json()["code"] == "USERPAYING"
    time.sleep(0.35)
    assert query(merchant, out_trade_no)["trade_state"] == "SUCCESS"


def test_over_1000_yuan_always_asks_for_the_pin(merchant):
    _number, response = codepay(merchant, PAYS, total=100001)
    assert response.status_code == 202 and response.json() == {"trade_state": "USERPAYING"}


def test_v3_walk_away_is_reversed_once_the_dialog_closed_with_recall(merchant, sandbox):
    out_trade_no, response = codepay(merchant, walks_away(2))
    assert response.status_code == 202
    time.sleep(0.25)
    assert query(merchant, out_trade_no)["trade_state"] == "USERPAYING"
    requests.post(sandbox.url + "/sandbox/counter/recall", json={"times": 1}, timeout=5)
    again = reverse(merchant, out_trade_no)
    assert again.status_code == 500 and again.json()["code"] == "SYSTEM_ERROR"
    done = reverse(merchant, out_trade_no)
    assert done.status_code == 200
    assert done.json() == {
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "out_trade_no": out_trade_no,
    }
    assert query(merchant, out_trade_no)["trade_state"] == "REVOKED"
    shown = requests.get(sandbox.url + f"/sandbox/orders/{out_trade_no}", timeout=5).json()
    assert [r["answer"] for r in shown["order"]["reverses"]] == ["RECALL", "REVOKED"]


@pytest.mark.parametrize(
    ("auth_code", "status", "code", "trade_state"),
    [
        (NOTENOUGH, 403, "NOT_ENOUGH", "PAYERROR"),
        (EXPIRED, 400, "AUTHCODEEXPIRE", None),
        (INVALID, 400, "AUTH_CODE_INVALID", None),
        ("123456", 400, "AUTH_CODE_INVALID", None),
        (SYSTEMERROR, 500, "SYSTEM_ERROR", "SUCCESS"),
        (BANKERROR, 500, "BANK_ERROR", "PAYERROR"),
    ],
)
def test_v3_refusals(merchant, auth_code, status, code, trade_state):
    out_trade_no, response = codepay(merchant, auth_code)
    assert response.status_code == status and response.json()["code"] == code
    found = query(merchant, out_trade_no)
    assert found.get("trade_state") == trade_state


def micropay(sandbox, settings, auth_code, out_trade_no=None):
    out_trade_no = out_trade_no or number()
    body = signed(
        settings,
        body="柜台",
        out_trade_no=out_trade_no,
        total_fee="100",
        spbill_create_ip="127.0.0.1",
        auth_code=auth_code,
    )
    answer = xml_to_dict(
        requests.post(sandbox.url + "/pay/micropay", data=body, timeout=5).content, 65536
    )
    assert answer["return_code"] == "SUCCESS"
    assert crypto.v2_verify(answer, settings["WECHATPAY_API_KEY"], "MD5")
    return out_trade_no, answer


def v2_reverse(sandbox, settings, out_trade_no):
    body = signed(settings, out_trade_no=out_trade_no)
    return xml_to_dict(
        requests.post(sandbox.url + "/secapi/pay/reverse", data=body, timeout=5).content, 65536
    )


def test_v2_micropay_paid_fields(sandbox, sandbox_settings):
    _number, answer = micropay(sandbox, sandbox_settings, PAYS)
    assert answer["result_code"] == "SUCCESS" and answer["trade_type"] == "MICROPAY"
    for name in ("openid", "bank_type", "total_fee", "cash_fee", "transaction_id", "time_end"):
        assert answer[name]


@pytest.mark.parametrize(
    ("auth_code", "err_code"),
    [
        (pin_pays(50), "USERPAYING"),
        (NOTENOUGH, "NOTENOUGH"),
        (EXPIRED, "AUTHCODEEXPIRE"),
        (SYSTEMERROR, "SYSTEMERROR"),
        (BANKERROR, "BANKERROR"),
    ],
)
def test_v2_micropay_refusals(sandbox, sandbox_settings, auth_code, err_code):
    _number, answer = micropay(sandbox, sandbox_settings, auth_code)
    assert answer["result_code"] == "FAIL" and answer["err_code"] == err_code


def test_v2_reverse_userpaying_then_recall_then_done(sandbox, sandbox_settings):
    out_trade_no, _answer = micropay(sandbox, sandbox_settings, walks_away(2))
    assert v2_reverse(sandbox, sandbox_settings, out_trade_no)["err_code"] == "USERPAYING"
    time.sleep(0.25)
    requests.post(sandbox.url + "/sandbox/counter/recall", json={"times": 1}, timeout=5)
    first = v2_reverse(sandbox, sandbox_settings, out_trade_no)
    assert first["result_code"] == "SUCCESS" and first["recall"] == "Y"
    second = v2_reverse(sandbox, sandbox_settings, out_trade_no)
    assert second["result_code"] == "SUCCESS" and second["recall"] == "N"
    query = signed(sandbox_settings, out_trade_no=out_trade_no)
    found = xml_to_dict(
        requests.post(sandbox.url + "/pay/orderquery", data=query, timeout=5).content, 65536
    )
    assert found["trade_state"] == "REVOKED" and found["trade_type"] == "MICROPAY"
