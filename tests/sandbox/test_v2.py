"""The simulator's API v2, spoken to in raw XML, and its v2 payment notifications.

These tests write and read the XML by hand (only the sign comes from ``crypto.v2_sign``, which
test_v2_crypto.py pins to the official vectors), so they check the simulator independently of
the backend's V2Gateway; the notification tests then feed what the simulator sends to the
gateway, as the backend would.
"""

import itertools
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from flask import Flask, Response, request

from sandbox import create_app
from server.wechatpay import crypto
from server.wechatpay.core.errors import NotificationError
from server.wechatpay.v2 import V2Gateway
from server.wechatpay.v2.messages import xml_to_dict
from tests.support.live import LiveServer
from tests.support.v2 import signed, xml


@pytest.fixture
def settings(sandbox_settings):
    return sandbox_settings


_numbers = itertools.count(1)
SUCCESS_REPLY = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)


def order_fields(notify_url="http://127.0.0.1:9/notify", **changes):
    expire = datetime.now(timezone(timedelta(hours=8))) + timedelta(minutes=30)
    fields = {
        "body": "测试商品",
        "out_trade_no": f"SBV2{next(_numbers):08d}",
        "total_fee": "101",
        "spbill_create_ip": "198.51.100.20",
        "notify_url": notify_url,
        "trade_type": "JSAPI",
        "openid": "oSandboxV2Buyer0000000001",
        "time_expire": expire.strftime("%Y%m%d%H%M%S"),
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def post(sandbox, path, body):
    response = requests.post(sandbox.url + path, data=body, timeout=5)
    assert response.status_code == 200
    return xml_to_dict(response.content, 65536)


def business(settings, answer, sign_type):
    """Check a signed business answer and return it."""
    assert answer["return_code"] == "SUCCESS"
    assert answer["appid"] == settings["WECHAT_APPID"]
    assert answer["mch_id"] == settings["WECHATPAY_MCHID"]
    assert crypto.v2_verify(answer, settings["WECHATPAY_API_KEY"], sign_type)
    return answer


# --- the transport layer: return_code=FAIL, unsigned -------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "post数据为空"),
        (b"this is not xml", "XML格式错误"),
        (b"<xml><appid>wx", "XML格式错误"),
        (b'<!DOCTYPE xml [<!ENTITY a "b">]><xml><appid>&a;</appid></xml>', "XML格式错误"),
        (b"<xml><appid><x>1</x></appid></xml>", "XML格式错误"),
        (b"<xml><appid>wx1</appid></xml>", "缺少参数"),
    ],
)
def test_unreadable_requests_are_return_fail(sandbox, body, message):
    answer = post(sandbox, "/pay/unifiedorder", body)
    assert answer["return_code"] == "FAIL" and message in answer["return_msg"]
    assert "sign" not in answer


def test_get_is_refused(sandbox):
    answer = xml_to_dict(requests.get(sandbox.url + "/pay/orderquery", timeout=5).content, 4096)
    assert answer["return_code"] == "FAIL" and "post" in answer["return_msg"]


@pytest.mark.parametrize("path", ["/pay/unifiedorder", "/pay/orderquery", "/pay/closeorder"])
def test_a_wrong_key_is_signerror(sandbox, settings, sign_type, path):
    body = signed(settings, sign_type, key="0" * 32, **order_fields())
    answer = post(sandbox, path, body)
    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}


def test_a_sign_over_other_fields_is_signerror(sandbox, settings):
    fields = order_fields()
    body = signed(settings, **fields).replace(b"<![CDATA[101]]>", b"<![CDATA[1]]>")
    assert post(sandbox, "/pay/unifiedorder", body)["return_msg"] == "签名错误"


def test_the_sign_type_must_match_the_signature(sandbox, settings):
    fields = {
        "appid": settings["WECHAT_APPID"],
        "mch_id": settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        "sign_type": "HMAC-SHA256",
        **order_fields(),
    }
    fields["sign"] = crypto.v2_sign(fields, settings["WECHATPAY_API_KEY"], "MD5")
    assert post(sandbox, "/pay/unifiedorder", xml(fields))["return_msg"] == "签名错误"


def test_another_appid_is_refused(sandbox, settings):
    body = signed({**settings, "WECHAT_APPID": "wx0000000000000000"}, **order_fields())
    answer = post(sandbox, "/pay/unifiedorder", body)
    assert answer["return_code"] == "FAIL" and "appid" in answer["return_msg"]


# --- the business layer: signed with the request's sign type ----------------------------------


def test_unifiedorder_answers_a_signed_prepay_id(sandbox, settings, sign_type):
    fields = order_fields()
    answer = business(
        settings,
        post(sandbox, "/pay/unifiedorder", signed(settings, sign_type, **fields)),
        sign_type,
    )
    assert answer["result_code"] == "SUCCESS" and answer["trade_type"] == "JSAPI"
    assert re.fullmatch(r"wx\d{14}[0-9a-f]+", answer["prepay_id"])
    other = "MD5" if sign_type == "HMAC-SHA256" else "HMAC-SHA256"
    assert not crypto.v2_verify(answer, settings["WECHATPAY_API_KEY"], other)
    stored = requests.get(
        f"{sandbox.url}/sandbox/orders/{fields['out_trade_no']}", timeout=5
    ).json()["order"]
    assert stored["api_version"] == "v2" and stored["sign_type"] == sign_type
    assert stored["spbill_create_ip"] == "198.51.100.20"


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"body": None}, "LACK_PARAMS"),
        ({"openid": None}, "LACK_PARAMS"),
        ({"notify_url": None}, "LACK_PARAMS"),
        ({"spbill_create_ip": None}, "LACK_PARAMS"),
        ({"total_fee": "1.01"}, "INVALID_REQUEST"),
        ({"total_fee": "0"}, "INVALID_REQUEST"),
        ({"notify_url": "https://shop.example.com/notify?x=1"}, "INVALID_REQUEST"),
        ({"body": "长" * 128}, "INVALID_REQUEST"),
        ({"spbill_create_ip": "host"}, "INVALID_REQUEST"),
        ({"trade_type": "CASH"}, "INVALID_REQUEST"),
        ({"time_expire": "2026-11-22"}, "INVALID_REQUEST"),
        ({"time_expire": "20200101000000"}, "INVALID_REQUEST"),
        ({"out_trade_no": "has space"}, "INVALID_REQUEST"),
    ],
)
def test_bad_order_fields_are_signed_business_errors(sandbox, settings, changes, code):
    answer = business(
        settings,
        post(sandbox, "/pay/unifiedorder", signed(settings, **order_fields(**changes))),
        "MD5",
    )
    assert answer["result_code"] == "FAIL" and answer["err_code"] == code
    assert answer["err_code_des"]


def test_indented_xml_is_read_and_values_are_signed_as_sent(sandbox, settings):
    fields = {
        "appid": settings["WECHAT_APPID"],
        "mch_id": settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        **order_fields(body=" 带空格的商品 "),
    }
    fields["sign"] = crypto.v2_sign(fields, settings["WECHATPAY_API_KEY"])
    pretty = "<xml>\n" + "".join(f"  <{k}><![CDATA[{v}]]></{k}>\n" for k, v in fields.items())
    answer = post(sandbox, "/pay/unifiedorder", (pretty + "</xml>\n").encode())
    assert business(settings, answer, "MD5")["result_code"] == "SUCCESS"
    stripped = post(sandbox, "/pay/unifiedorder", xml({**fields, "body": "带空格的商品"}))
    assert stripped["return_msg"] == "签名错误"


def test_resubmitting_an_order(sandbox, settings):
    fields = order_fields()
    first = post(sandbox, "/pay/unifiedorder", signed(settings, **fields))
    again = post(
        sandbox,
        "/pay/unifiedorder",
        signed(settings, **{**fields, "spbill_create_ip": "198.51.100.21"}),
    )
    assert again["prepay_id"] == first["prepay_id"]
    changed = post(sandbox, "/pay/unifiedorder", signed(settings, **{**fields, "total_fee": "1"}))
    assert (changed["result_code"], changed["err_code"], changed["err_code_des"]) == (
        "FAIL",
        "OUT_TRADE_NO_USED",
        "商户订单号重复",
    )


def test_query_close_and_pay(sandbox, settings, sign_type):
    fields = order_fields()
    placed = post(sandbox, "/pay/unifiedorder", signed(settings, sign_type, **fields))
    prepay_id = placed["prepay_id"]
    number = {"out_trade_no": fields["out_trade_no"]}
    query = business(
        settings, post(sandbox, "/pay/orderquery", signed(settings, sign_type, **number)), sign_type
    )
    assert (query["trade_state"], query["total_fee"], query["out_trade_no"]) == (
        "NOTPAY",
        "101",
        fields["out_trade_no"],
    )
    assert "transaction_id" not in query

    paid = requests.post(
        f"{sandbox.url}/sandbox/pay", json={"prepay_id": prepay_id}, timeout=5
    ).json()
    by_id = business(
        settings,
        post(
            sandbox,
            "/pay/orderquery",
            signed(settings, sign_type, transaction_id=paid["transaction_id"]),
        ),
        sign_type,
    )
    assert by_id["trade_state"] == "SUCCESS" and by_id["out_trade_no"] == fields["out_trade_no"]
    assert by_id["cash_fee"] == "101" and re.fullmatch(r"\d{14}", by_id["time_end"])
    assert by_id["openid"] == fields["openid"] and by_id["bank_type"]

    closed = post(sandbox, "/pay/closeorder", signed(settings, sign_type, **number))
    assert (closed["result_code"], closed["err_code"]) == ("FAIL", "ORDERPAID")


def test_close_then_close_again_then_query(sandbox, settings):
    fields = order_fields()
    post(sandbox, "/pay/unifiedorder", signed(settings, **fields))
    number = {"out_trade_no": fields["out_trade_no"]}
    assert post(sandbox, "/pay/closeorder", signed(settings, **number))["result_code"] == "SUCCESS"
    again = post(sandbox, "/pay/closeorder", signed(settings, **number))
    assert (again["result_code"], again["err_code"]) == ("FAIL", "ORDERCLOSED")
    assert post(sandbox, "/pay/orderquery", signed(settings, **number))["trade_state"] == "CLOSED"


def test_unknown_orders(sandbox, settings):
    for path in ("/pay/orderquery", "/pay/closeorder"):
        answer = post(sandbox, path, signed(settings, out_trade_no="NOPE00000001"))
        assert (answer["result_code"], answer["err_code"]) == ("FAIL", "ORDERNOTEXIST")


# --- notifications ---------------------------------------------------------------------------


class Receiver:
    """A merchant notify_url that answers each notification with the next scripted reply
    (bytes; ``None`` hands it to ``gateway``, replying as the backend would)."""

    def __init__(self, replies=(), gateway=None):
        self.replies, self.gateway = list(replies), gateway
        self.received, self.outcomes = [], []
        self.lock = threading.Lock()
        app = Flask(__name__)

        @app.post("/api/pay/notify")
        def notify():
            body = request.get_data()
            with self.lock:
                self.received.append({"body": body, "content_type": request.content_type})
                reply = self.replies.pop(0) if self.replies else None
            if reply is not None:
                return Response(reply, mimetype="application/xml")
            try:
                notification = self.gateway.parse_payment_notification(request.headers, body)
                outcome, answer = notification, self.gateway.notification_reply(True)
            except NotificationError as exc:
                outcome, answer = exc.code, self.gateway.notification_reply(False, exc.code)
            with self.lock:
                self.outcomes.append(outcome)
            return Response(answer.body, status=answer.status, content_type=answer.content_type)

        self.server = LiveServer(app)
        self.url = self.server.url + "/api/pay/notify"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()


def gateway_for(settings, sign_type):
    return V2Gateway(
        appid=settings["WECHAT_APPID"],
        mchid=settings["WECHATPAY_MCHID"],
        api_key=settings["WECHATPAY_API_KEY"],
        sign_type=sign_type,
        api_base="http://127.0.0.1:9",
    )


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"condition not met within {timeout} s")


def deliveries(sandbox, out_trade_no):
    return requests.get(
        f"{sandbox.url}/sandbox/notifications", params={"out_trade_no": out_trade_no}, timeout=5
    ).json()["notifications"]


def place_and_pay(sandbox, settings, sign_type, notify_url):
    fields = order_fields(notify_url=notify_url, attach="table=12")
    answer = post(sandbox, "/pay/unifiedorder", signed(settings, sign_type, **fields))
    paid = requests.post(
        f"{sandbox.url}/sandbox/pay", json={"prepay_id": answer["prepay_id"]}, timeout=5
    )
    assert paid.status_code == 200, paid.text
    return fields, paid.json()


def test_the_notification_has_the_documented_fields_and_sign(sandbox, settings, sign_type):
    with Receiver(gateway=gateway_for(settings, sign_type)) as receiver:
        fields, paid = place_and_pay(sandbox, settings, sign_type, receiver.url)
        wait_for(lambda: receiver.outcomes)
    body = xml_to_dict(receiver.received[0]["body"], 65536)
    expected = {
        "appid",
        "mch_id",
        "nonce_str",
        "result_code",
        "return_code",
        "openid",
        "is_subscribe",
        "trade_type",
        "bank_type",
        "total_fee",
        "cash_fee",
        "fee_type",
        "transaction_id",
        "out_trade_no",
        "time_end",
        "attach",
        "sign",
    }
    assert set(body) == expected | ({"sign_type"} if sign_type != "MD5" else set())
    assert body.get("sign_type", "MD5") == sign_type
    assert crypto.v2_verify(body, settings["WECHATPAY_API_KEY"], sign_type)
    assert (body["return_code"], body["result_code"], body["trade_type"], body["fee_type"]) == (
        "SUCCESS",
        "SUCCESS",
        "JSAPI",
        "CNY",
    )
    assert (body["total_fee"], body["cash_fee"], body["out_trade_no"], body["attach"]) == (
        "101",
        "101",
        fields["out_trade_no"],
        "table=12",
    )
    assert body["transaction_id"] == paid["transaction_id"] == paid["event_id"]
    assert re.fullmatch(r"\d{14}", body["time_end"])
    assert "xml" in receiver.received[0]["content_type"]

    notification = receiver.outcomes[0]
    assert notification.event_id == paid["transaction_id"]
    assert notification.transaction.total == 101
    log = wait_for(lambda: deliveries(sandbox, fields["out_trade_no"]))
    assert [(d["attempt"], d["acknowledged"]) for d in log] == [(1, True)]


def test_only_return_code_success_acknowledges(sandbox, settings):
    replies = [
        b"<xml><return_code><![CDATA[FAIL]]></return_code></xml>",
        b"<xml><return_code><![CDATA[success]]></return_code></xml>",
        b'{"return_code": "SUCCESS"}',
        b"SUCCESS",
        b"",
        b"<xml><return_code> SUCCESS</return_code></xml>",
        SUCCESS_REPLY,
    ]
    with Receiver(replies) as receiver:
        fields, _ = place_and_pay(sandbox, settings, "MD5", receiver.url)
        log = wait_for(
            lambda: (
                [d for d in deliveries(sandbox, fields["out_trade_no"]) if d["acknowledged"]]
                and deliveries(sandbox, fields["out_trade_no"])
            )
        )
    assert [d["acknowledged"] for d in log] == [False] * 6 + [True]
    assert [d["attempt"] for d in log] == list(range(1, 8))
    assert len(receiver.received) == 7
    assert len({r["body"] for r in receiver.received}) == 1  # the same signed bytes each time


def test_a_tampered_probe_is_refused_and_the_real_one_accepted(sandbox, settings, sign_type):
    requests.post(
        f"{sandbox.url}/sandbox/faults", json={"kind": "notify", "action": "tamper"}, timeout=5
    ).raise_for_status()
    with Receiver(gateway=gateway_for(settings, sign_type)) as receiver:
        place_and_pay(sandbox, settings, sign_type, receiver.url)
        wait_for(lambda: len(receiver.outcomes) >= 2)
    refused, accepted = receiver.outcomes[:2]
    assert refused == "SIGNATURE_INVALID"
    assert accepted.transaction.total == 101


def test_duplicated_notifications_carry_the_same_transaction(sandbox, settings):
    requests.post(
        f"{sandbox.url}/sandbox/faults",
        json={"kind": "notify", "action": "duplicate", "copies": 3},
        timeout=5,
    ).raise_for_status()
    with Receiver(gateway=gateway_for(settings, "MD5")) as receiver:
        _, paid = place_and_pay(sandbox, settings, "MD5", receiver.url)
        wait_for(lambda: len(receiver.outcomes) >= 3)
    assert {n.event_id for n in receiver.outcomes} == {paid["transaction_id"]}


# --- a hook for the simulator's API faults -----------------------------------------------------


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_fault_answer_is_a_signed_business_error(settings, sign_type):
    """``sandbox.pay.v2.core.fault_answer`` (for ``sandbox.fault_response``): an err_code
    fault answers like WeChat's business failure, signed with the request's sign type."""
    from sandbox.pay.v2 import core as v2

    app = create_app(settings)
    body = signed(settings, sign_type, out_trade_no="F0001")
    with app.test_request_context("/pay/orderquery", method="POST", data=body):
        response = v2.fault_answer({"status": 200, "code": "SYSTEMERROR", "message": "系统超时"})
        answer = xml_to_dict(response.get_data(), 4096)
        plain = xml_to_dict(v2.fault_answer({"status": 503}).get_data(), 4096)
    assert response.status_code == 200
    assert (answer["result_code"], answer["err_code"], answer["err_code_des"]) == (
        "FAIL",
        "SYSTEMERROR",
        "系统超时",
    )
    assert crypto.v2_verify(answer, settings["WECHATPAY_API_KEY"], sign_type)
    assert plain["return_code"] == "FAIL" and "sign" not in plain
