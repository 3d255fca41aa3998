"""V2Gateway against real HTTP peers: the simulator, and a tiny peer that answers badly.

Every test runs in both sign types. The simulator checks the gateway's signatures and signs
its answers with the request's sign type, so a mismatch anywhere fails here.
"""

import itertools
import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests
from flask import Flask, Response, request

from server.wechatpay import crypto
from server.wechatpay.core.errors import ApiError, InvalidResponse, TransportError
from server.wechatpay.core.types import OrderRequest
from server.wechatpay.v2 import V2Gateway
from server.wechatpay.v2.messages import dict_to_xml, xml_to_dict
from tests.support.live import LiveServer

NOTIFY_URL = "http://127.0.0.1:9/api/pay/notify"  # nothing listens: these tests don't pay
_numbers = itertools.count(1)


def arm(sandbox, fault):
    response = requests.post(f"{sandbox.url}/sandbox/faults", json=fault, timeout=5)
    assert response.status_code == 201, response.text


def cashier(sandbox, prepay_id):
    response = requests.post(f"{sandbox.url}/sandbox/pay", json={"prepay_id": prepay_id}, timeout=5)
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
def gateway(sandbox, sandbox_settings, sign_type):
    return make_gateway(sandbox.url, sandbox_settings, sign_type)


def make_gateway(url, settings, sign_type="MD5", api_key=None, timeout=10.0):
    return V2Gateway(
        appid=settings["WECHAT_APPID"],
        mchid=settings["WECHATPAY_MCHID"],
        api_key=api_key or settings["WECHATPAY_API_KEY"],
        sign_type=sign_type,
        api_base=url,
        session=requests.Session(),
        timeout=timeout,
    )


def order_request(**changes):
    fields = {
        "out_trade_no": f"V2T{datetime.now():%H%M%S}{next(_numbers):05d}",
        "description": "拿铁 大杯",
        "total": 2590,
        "openid": "oV2Buyer000000000000000001",
        "notify_url": NOTIFY_URL,
        "client_ip": "203.0.113.7",
        "time_expire": datetime.now(UTC) + timedelta(minutes=30),
    }
    fields.update(changes)
    return OrderRequest(**fields)


def sandbox_order(sandbox, out_trade_no):
    return requests.get(f"{sandbox.url}/sandbox/orders/{out_trade_no}", timeout=5).json()["order"]


# --- place, pay params, query, close --------------------------------------------------------


def test_place_order_returns_a_prepay_id_and_the_simulator_stores_the_order(
    gateway, sandbox, sign_type
):
    request_ = order_request(attach="cart=7")
    prepay_id = gateway.place_order(request_)
    assert re.fullmatch(r"wx\d{14}[0-9a-f]{8,}", prepay_id)
    stored = sandbox_order(sandbox, request_.out_trade_no)
    assert stored["api_version"] == "v2" and stored["trade_state"] == "NOTPAY"
    assert stored["prepay_id"] == prepay_id
    assert stored["sign_type"] == sign_type
    assert stored["spbill_create_ip"] == "203.0.113.7"
    assert stored["amount"]["total"] == 2590 and stored["attach"] == "cart=7"
    assert stored["trade_type"] == "JSAPI" and stored["notify_url"] == NOTIFY_URL
    beijing = request_.time_expire.astimezone(timezone(timedelta(hours=8)))
    assert stored["time_expire"] == beijing.strftime("%Y%m%d%H%M%S")


def test_place_order_without_a_usable_client_ip_sends_localhost(gateway, sandbox):
    for client_ip in (None, "not-an-ip"):
        request_ = order_request(client_ip=client_ip)
        gateway.place_order(request_)
        assert sandbox_order(sandbox, request_.out_trade_no)["spbill_create_ip"] == "127.0.0.1"


def test_long_descriptions_are_cut_to_127_characters(gateway, sandbox):
    request_ = order_request(description="咖" * 200)
    gateway.place_order(request_)
    assert sandbox_order(sandbox, request_.out_trade_no)["description"] == "咖" * 127


def test_the_same_order_placed_twice_gets_the_same_prepay_id(gateway):
    request_ = order_request()
    assert gateway.place_order(request_) == gateway.place_order(request_)


def test_same_out_trade_no_with_another_amount_is_out_trade_no_used(gateway):
    request_ = order_request()
    gateway.place_order(request_)
    with pytest.raises(ApiError) as info:
        gateway.place_order(order_request(out_trade_no=request_.out_trade_no, total=1))
    assert info.value.code == "OUT_TRADE_NO_USED" and not info.value.retryable


@pytest.mark.parametrize(
    "changes",
    [
        {"total": 0},
        {"total": 25.9},
        {"total": True},
        {"notify_url": NOTIFY_URL + "?order=1"},
        {"time_expire": datetime.now() + timedelta(hours=1)},
        {"attach": "x" * 128},
    ],
)
def test_bad_order_requests_never_leave_the_process(gateway, sandbox, changes):
    request_ = order_request(**changes)
    with pytest.raises(ValueError):
        gateway.place_order(request_)
    response = requests.get(f"{sandbox.url}/sandbox/orders/{request_.out_trade_no}", timeout=5)
    assert response.status_code == 404


def test_pay_params_verify_with_the_api_key(gateway, sandbox_settings, sign_type):
    params = gateway.pay_params(gateway.place_order(order_request()))
    assert params["signType"] == sign_type
    signed = {"appId": sandbox_settings["WECHAT_APPID"], **params, "sign": params["paySign"]}
    del signed["paySign"]
    assert crypto.v2_verify(signed, sandbox_settings["WECHATPAY_API_KEY"], sign_type)


def test_query_follows_the_order_from_notpay_to_success(gateway, sandbox):
    request_ = order_request()
    prepay_id = gateway.place_order(request_)
    before = gateway.query_order(request_.out_trade_no)
    assert (before.trade_state, before.total, before.transaction_id) == ("NOTPAY", 2590, None)

    paid = cashier(sandbox, prepay_id).json()
    after = gateway.query_order(request_.out_trade_no)
    assert after.trade_state == "SUCCESS" and after.total == 2590
    assert after.transaction_id == paid["transaction_id"]
    assert after.openid == "oV2Buyer000000000000000001"
    assert after.appid == gateway.appid and after.mchid == gateway.mchid
    assert after.success_time.utcoffset() == timedelta(hours=8)
    assert abs(after.success_time - datetime.now(UTC)) < timedelta(minutes=1)


def test_query_of_an_unknown_order_is_order_not_exist(gateway):
    with pytest.raises(ApiError) as info:
        gateway.query_order("NEVER-PLACED-0001")
    assert info.value.code == "ORDER_NOT_EXIST"


def test_close_an_unpaid_order_and_close_it_again(gateway):
    request_ = order_request()
    gateway.place_order(request_)
    gateway.close_order(request_.out_trade_no)
    assert gateway.query_order(request_.out_trade_no).trade_state == "CLOSED"
    gateway.close_order(request_.out_trade_no)  # ORDERCLOSED counts as done
    with pytest.raises(ApiError) as info:
        gateway.place_order(request_)
    assert info.value.code == "ORDERCLOSED"


def test_a_paid_order_cannot_be_closed_or_placed_again(gateway, sandbox):
    request_ = order_request()
    cashier(sandbox, gateway.place_order(request_))
    for call in (
        lambda: gateway.close_order(request_.out_trade_no),
        lambda: gateway.place_order(request_),
    ):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.code == "ORDERPAID"


def test_closing_an_unknown_order_is_order_not_exist(gateway):
    with pytest.raises(ApiError) as info:
        gateway.close_order("NEVER-PLACED-0002")
    assert info.value.code == "ORDER_NOT_EXIST"


# --- errors from the simulator ----------------------------------------------------------------


def test_a_wrong_api_key_is_signerror(sandbox, sandbox_settings, sign_type):
    gateway = make_gateway(sandbox.url, sandbox_settings, sign_type, api_key="k" * 32)
    with pytest.raises(ApiError) as info:
        gateway.place_order(order_request())
    assert info.value.code == "SIGNERROR" and "签名错误" in info.value.message


def test_system_busy_is_a_retryable_system_error(gateway, sandbox):
    arm(
        sandbox,
        {
            "kind": "api",
            "path": "/pay/unifiedorder",
            "status": 200,
            "message": "系统繁忙,请稍后再试.",
        },
    )
    with pytest.raises(ApiError) as info:
        gateway.place_order(order_request())
    assert info.value.code == "SYSTEM_ERROR" and info.value.retryable


def test_an_http_error_status_is_a_transport_error(gateway, sandbox):
    arm(sandbox, {"kind": "api", "path": "/pay/orderquery", "status": 502, "times": 2})
    with pytest.raises(TransportError):
        gateway.query_order("ANY-ORDER-0001")


def test_a_timeout_on_unifiedorder_is_not_retried(sandbox, sandbox_settings, sign_type):
    gateway = make_gateway(sandbox.url, sandbox_settings, sign_type, timeout=0.5)
    arm(sandbox, {"kind": "api", "path": "/pay/unifiedorder", "delay": 1.5})
    request_ = order_request()
    with pytest.raises(TransportError) as info:
        gateway.place_order(request_)
    assert type(info.value) is TransportError
    # The order did reach WeChat; placing it again with identical parameters is safe.
    assert gateway.place_order(request_).startswith("wx")


def test_a_timeout_on_orderquery_is_retried_once(sandbox, sandbox_settings, sign_type):
    gateway = make_gateway(sandbox.url, sandbox_settings, sign_type, timeout=0.5)
    request_ = order_request()
    gateway.place_order(request_)
    arm(sandbox, {"kind": "api", "path": "/pay/orderquery", "delay": 1.5})
    assert gateway.query_order(request_.out_trade_no).trade_state == "NOTPAY"
    arm(sandbox, {"kind": "api", "path": "/pay/orderquery", "delay": 1.5, "times": 2})
    with pytest.raises(TransportError):
        gateway.query_order(request_.out_trade_no)


def test_nothing_listening_is_a_transport_error(sandbox_settings):
    gateway = make_gateway("http://127.0.0.1:9", sandbox_settings)
    with pytest.raises(TransportError):
        gateway.query_order("ANY-ORDER-0002")


# --- a peer that answers badly ---------------------------------------------------------------

APPID, MCHID, KEY = "wx1111222233334444", "1900000109", "abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture(scope="module")
def bad_peer():
    """An HTTP server answering whatever ``peer.answer`` holds (bytes, or a function of the
    request's fields returning a dict to sign)."""
    app = Flask(__name__)
    state = {"answer": b""}

    @app.post("/pay/<path:_endpoint>")
    def answer(_endpoint):
        body = state["answer"]
        if callable(body):
            fields = xml_to_dict(request.get_data(), 65536)
            reply = body(fields)
            if "sign" not in reply:
                reply["sign"] = crypto.v2_sign(reply, KEY, fields.get("sign_type") or "MD5")
            body = dict_to_xml(reply)
        return Response(body, mimetype="text/xml")

    with LiveServer(app) as server:
        server.state = state
        yield server


def signed_answer(**fields):
    """A function building a SUCCESS/SUCCESS answer for ``bad_peer`` plus ``fields``."""

    def build(request_fields):
        base = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": APPID,
            "mch_id": MCHID,
            "nonce_str": crypto.nonce(16),
            "result_code": "SUCCESS",
        }
        base.update(fields)
        return {k: v for k, v in base.items() if v is not None}

    return build


def peer_gateway(bad_peer, sign_type):
    return V2Gateway(
        appid=APPID,
        mchid=MCHID,
        api_key=KEY,
        sign_type=sign_type,
        api_base=bad_peer.url,
        session=requests.Session(),
        timeout=5,
    )


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b'{"return_code": "SUCCESS"}',
        b"<xml><return_code>SUCCESS</return_code>",
        b'<!DOCTYPE xml [<!ENTITY a "SUCCESS">]><xml><return_code>&a;</return_code></xml>',
        b"<xml><return_msg>OK</return_msg></xml>",  # no return_code at all
        b"<xml><return_code>SUCCESS</return_code><prepay_id>wx1</prepay_id></xml>",  # no sign
        b"<xml><return_code>SUCCESS</return_code><a>" + b"x" * 300_000 + b"</a></xml>",
        signed_answer(prepay_id="wx2026", sign="0" * 32),  # wrong sign
        signed_answer(prepay_id="wx2026", appid="wx9999999999999999"),  # another merchant
        signed_answer(prepay_id="wx2026", result_code=None),  # no result_code
        signed_answer(prepay_id="wx2026", result_code="PENDING"),
        signed_answer(),  # no prepay_id
    ],
    ids=[
        "empty",
        "html",
        "json",
        "truncated",
        "entity",
        "no-return-code",
        "unsigned",
        "oversized",
        "bad-sign",
        "other-merchant",
        "no-result-code",
        "odd-result-code",
        "no-prepay-id",
    ],
)
def test_place_order_refuses_a_bad_answer(bad_peer, sign_type, answer):
    bad_peer.state["answer"] = answer
    with pytest.raises(InvalidResponse):
        peer_gateway(bad_peer, sign_type).place_order(order_request())


def test_an_answer_signed_with_the_other_sign_type_is_refused(bad_peer, sign_type):
    other = "MD5" if sign_type == "HMAC-SHA256" else "HMAC-SHA256"

    def build(request_fields):
        fields = signed_answer(prepay_id="wx2026")(request_fields)
        fields["sign"] = crypto.v2_sign(fields, KEY, other)
        return fields

    bad_peer.state["answer"] = build
    with pytest.raises(InvalidResponse):
        peer_gateway(bad_peer, sign_type).place_order(order_request())


def test_a_tampered_answer_is_refused(bad_peer, sign_type):
    def build(request_fields):
        fields = signed_answer(prepay_id="wx2026")(request_fields)
        fields["sign"] = crypto.v2_sign(fields, KEY, request_fields.get("sign_type") or "MD5")
        fields["prepay_id"] = "wx2027"
        return fields

    bad_peer.state["answer"] = build
    with pytest.raises(InvalidResponse):
        peer_gateway(bad_peer, sign_type).place_order(order_request())


def test_a_signed_answer_is_accepted(bad_peer, sign_type):
    bad_peer.state["answer"] = signed_answer(prepay_id="wx20261122123005abcdef")
    assert (
        peer_gateway(bad_peer, sign_type).place_order(order_request()) == "wx20261122123005abcdef"
    )


def test_a_signed_business_system_error_is_retryable(bad_peer, sign_type):
    bad_peer.state["answer"] = signed_answer(
        result_code="FAIL", err_code="SYSTEMERROR", err_code_des="系统超时"
    )
    with pytest.raises(ApiError) as info:
        peer_gateway(bad_peer, sign_type).place_order(order_request())
    assert info.value.code == "SYSTEM_ERROR" and info.value.retryable
    assert info.value.message == "系统超时"


def test_retcode_retmsg_error_bodies_are_api_errors(bad_peer, sign_type):
    bad_peer.state["answer"] = b"<xml><retcode>-1</retcode><retmsg>invalid request</retmsg></xml>"
    with pytest.raises(ApiError) as info:
        peer_gateway(bad_peer, sign_type).query_order("ANY-ORDER-0003")
    assert info.value.code == "RETURN_FAIL" and info.value.message == "invalid request"


@pytest.mark.parametrize(
    "fields",
    [
        {"out_trade_no": "SOMEONE-ELSES", "trade_state": "SUCCESS", "total_fee": "1"},
        {"out_trade_no": "Q-0004"},  # no trade_state
        {"out_trade_no": "Q-0004", "trade_state": "SUCCESS", "total_fee": "1.00"},
        {
            "out_trade_no": "Q-0004",
            "trade_state": "SUCCESS",
            "total_fee": "1",
            "time_end": "2026-11-22 12:30:05",
        },
    ],
    ids=["other-order", "no-state", "yuan-amount", "bad-time"],
)
def test_query_refuses_a_signed_but_wrong_answer(bad_peer, fields):
    bad_peer.state["answer"] = signed_answer(**fields)
    with pytest.raises(InvalidResponse):
        peer_gateway(bad_peer, "MD5").query_order("Q-0004")


def test_query_maps_every_trade_state(bad_peer):
    gateway = peer_gateway(bad_peer, "MD5")
    for state in ("SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR"):
        bad_peer.state["answer"] = signed_answer(
            out_trade_no="Q-0005", trade_state=state, total_fee="300", trade_state_desc="d"
        )
        transaction = gateway.query_order("Q-0005")
        assert (transaction.trade_state, transaction.total) == (state, 300)


def test_an_answer_that_stalls_midway_is_a_transport_error():
    app = Flask(__name__)

    @app.post("/pay/orderquery")
    def stall():
        def body():
            yield b"<xml><return_code>SUCCESS</return_code>"
            time.sleep(1.5)  # longer than the read timeout
            yield b"</xml>"

        return Response(body(), mimetype="text/xml")

    with LiveServer(app) as server:
        gateway = V2Gateway(
            appid=APPID,
            mchid=MCHID,
            api_key=KEY,
            api_base=server.url,
            session=requests.Session(),
            timeout=0.5,
        )
        with pytest.raises(TransportError):
            gateway.query_order("ANY-ORDER-0006")
