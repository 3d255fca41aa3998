"""API v2 refunds: V2Gateway against the simulator over real HTTP, and over mutual TLS.

The simulator checks the gateway's signatures and WeChat's refund rules; the gateway checks the
simulator's signed answers and decrypts its refund notifications (``req_info``), which a small
notify_url hands to ``parse_refund_notification`` as the backend would. The mutual-TLS tests
serve the simulator over HTTPS with a test CA: ``/secapi/`` then needs the merchant's API
certificate, which the gateway's session presents.
"""

import itertools
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask, Response, request

from sandbox import create_app
from sandbox.devkeys import _key_pem, _new_key, self_signed_certificate
from sandbox.tls import server_context
from server import create_app as create_backend
from server.config import ConfigError
from server.wechatpay import crypto
from server.wechatpay.core.errors import ApiError, NotificationError, TransportError
from server.wechatpay.core.types import OrderRequest, RefundRequest
from server.wechatpay.v2 import V2Gateway
from server.wechatpay.v2.client import client_cert_session
from server.wechatpay.v2.messages import dict_to_xml, xml_to_dict
from tests.support import require, wait_for
from tests.support.live import LiveServer
from tests.support.simulator import arm
from tests.support.tls import make_tls

_numbers = itertools.count(1)
DEAD_URL = "http://127.0.0.1:9/api/pay/notify"  # payment notifications: nobody listens


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A test CA and a certificate for 127.0.0.1 that it issued."""
    return make_tls(tmp_path_factory.mktemp("v2-tls"))


@pytest.fixture(scope="module")
def tls_sandbox(sandbox_settings, tls):
    """The simulator over HTTPS; client certificates verified against the merchant's own
    (self-signed) certificate, as ``python -m sandbox --tls-cert ... --tls-key ...`` does."""
    context = server_context(tls["cert"], tls["key"], sandbox_settings["WECHATPAY_CERT"])
    server = LiveServer(create_app(sandbox_settings), ssl_context=context).start()
    yield server
    server.stop()


@pytest.fixture
def https_sandbox(tls_sandbox, tls):
    requests.post(
        tls_sandbox.url + "/sandbox/reset", verify=tls["ca"], timeout=5
    ).raise_for_status()
    return tls_sandbox


def make_gateway(url, settings, sign_type="MD5", ca_bundle=None, cert_session=True, **extra):
    """The gateway as ``server/channels.py`` builds it: one session for /pay/, and the mutual
    TLS session (merchant certificate + key, read once) for /secapi/."""
    session = plain_session(ca_bundle)
    if cert_session is True:
        cert_session = client_cert_session(
            settings["WECHATPAY_CERT"], settings["WECHATPAY_PRIVATE_KEY"], ca_bundle
        )
    return V2Gateway(
        appid=settings["WECHAT_APPID"],
        mchid=settings["WECHATPAY_MCHID"],
        api_key=settings["WECHATPAY_API_KEY"],
        sign_type=sign_type,
        api_base=url,
        session=session,
        cert_session=cert_session,
        **extra,
    )


def plain_session(ca_bundle=None):
    session = requests.Session()
    if ca_bundle:  # trust_env off, or REQUESTS_CA_BUNDLE would win over session.verify
        session.verify, session.trust_env = ca_bundle, False
    return session


@pytest.fixture
def gateway(sandbox, sandbox_settings, sign_type):
    return make_gateway(sandbox.url, sandbox_settings, sign_type)


class RefundReceiver:
    """The merchant's refund notify_url: every notification goes through
    ``parse_refund_notification`` and is answered as the backend answers."""

    def __init__(self, gateway, fail_first=0):
        self.gateway, self.lock = gateway, threading.Lock()
        self.bodies, self.outcomes = [], []
        self.fail_first = fail_first  # answer FAIL this many times first (WeChat retries)
        app = Flask(__name__)

        @app.post("/api/refund/notify")
        def notify():
            body = request.get_data()
            with self.lock:
                if self.fail_first:
                    self.fail_first -= 1
                    reply = self.gateway.notification_reply(False, "busy")
                    return Response(reply.body, status=500, content_type=reply.content_type)
            try:
                outcome = self.gateway.parse_refund_notification(request.headers, body)
                reply = self.gateway.notification_reply(True)
            except NotificationError as exc:
                outcome, reply = exc.code, self.gateway.notification_reply(False, exc.code)
            with self.lock:
                self.bodies.append(body)
                self.outcomes.append(outcome)
            return Response(reply.body, status=reply.status, content_type=reply.content_type)

        self.server = LiveServer(app).start()
        self.url = self.server.url + "/api/refund/notify"

    def accepted(self):
        with self.lock:
            return [o for o in self.outcomes if not isinstance(o, str)]

    def refused(self):
        with self.lock:
            return [o for o in self.outcomes if isinstance(o, str)]


@pytest.fixture
def receiver(gateway):
    receiver = RefundReceiver(gateway)
    yield receiver
    receiver.server.stop()


def paid_order(gateway, sandbox_url, total=1000, verify=True):
    """Place a v2 order through the gateway and pay it at the simulator's cashier."""
    out_trade_no = f"V2RF{datetime.now():%H%M%S}{next(_numbers):05d}"
    prepay_id = gateway.place_order(
        OrderRequest(
            out_trade_no=out_trade_no,
            description="退款测试",
            total=total,
            openid="oV2Refund0000000000000001",
            notify_url=DEAD_URL,
            client_ip="203.0.113.9",
            time_expire=datetime.now(UTC) + timedelta(minutes=30),
        )
    )
    paid = requests.post(
        f"{sandbox_url}/sandbox/pay", json={"prepay_id": prepay_id}, verify=verify, timeout=5
    )
    assert paid.status_code == 200, paid.text
    return out_trade_no, paid.json()["transaction_id"]


def refund_request(out_trade_no, refund, total=1000, notify_url=None, out_refund_no=None):
    return RefundRequest(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no or f"RF{next(_numbers):06d}-v2",
        refund=refund,
        total=total,
        reason="尺码不合适",
        notify_url=notify_url,
    )


def sandbox_refunds(url, out_trade_no, verify=True):
    order = requests.get(f"{url}/sandbox/orders/{out_trade_no}", verify=verify, timeout=5).json()[
        "order"
    ]
    return order["refunds"]


def signed_xml(settings, **fields):
    data = {
        "appid": settings["WECHAT_APPID"],
        "mch_id": settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        **fields,
    }
    data["sign"] = crypto.v2_sign(data, settings["WECHATPAY_API_KEY"])
    return dict_to_xml(data)


# --- refund, query, notification ----------------------------------------------------------------


def test_refund_is_accepted_then_notified_and_queried(sandbox, sandbox_settings, gateway, receiver):
    out_trade_no, transaction_id = paid_order(gateway, sandbox.url)
    accepted = gateway.refund(
        refund_request(out_trade_no, 300, notify_url=receiver.url, out_refund_no="RF-V2-0001")
    )
    assert accepted.status == "PROCESSING" and accepted.refund_id.startswith("50")
    assert (accepted.refund, accepted.total) == (300, 1000)
    assert (accepted.out_trade_no, accepted.transaction_id) == (out_trade_no, transaction_id)

    (notification,) = wait_for(receiver.accepted)
    assert notification.event_type == "REFUND.SUCCESS"
    assert notification.event_id == "RF-V2-0001:SUCCESS"
    settled = notification.refund
    assert (settled.out_refund_no, settled.status, settled.refund, settled.total) == (
        "RF-V2-0001",
        "SUCCESS",
        300,
        1000,
    )
    assert settled.refund_id == accepted.refund_id and settled.transaction_id == transaction_id
    assert settled.user_received_account == "支付用户零钱"
    assert settled.success_time.utcoffset() == timedelta(hours=8)
    assert notification.payload["refund_request_source"] == "API"
    assert notification.payload["appid"] == sandbox_settings["WECHAT_APPID"]
    # The notification is WeChat's shape: no sign, only the encrypted req_info.
    envelope = xml_to_dict(receiver.bodies[0], 65536)
    assert set(envelope) == {"return_code", "appid", "mch_id", "nonce_str", "req_info"}

    queried = gateway.query_refund("RF-V2-0001")
    assert (queried.status, queried.refund, queried.total, queried.channel) == (
        "SUCCESS",
        300,
        1000,
        "ORIGINAL",
    )
    assert queried.user_received_account == "支付用户零钱"  # read from refund_recv_accout_0
    assert queried.success_time == settled.success_time
    assert gateway.query_order(out_trade_no).trade_state == "REFUND"


def test_an_unacknowledged_notification_is_sent_again(sandbox, sandbox_settings, gateway):
    receiver = RefundReceiver(gateway, fail_first=2)
    try:
        out_trade_no, _ = paid_order(gateway, sandbox.url)
        gateway.refund(refund_request(out_trade_no, 100, notify_url=receiver.url))
        (notification,) = wait_for(receiver.accepted)
        assert notification.refund.status == "SUCCESS"

        def attempts():  # logged once the simulator has read the reply
            log = requests.get(f"{sandbox.url}/sandbox/notifications", timeout=5).json()
            return [
                (d["attempt"], d["acknowledged"])
                for d in log["notifications"]
                if d["url"] == receiver.url
            ]

        assert wait_for(lambda: len(attempts()) == 3) and attempts() == [
            (1, False),
            (2, False),
            (3, True),
        ]
    finally:
        receiver.server.stop()


def test_refundquery_speaks_wechats_indexed_field_names(sandbox, sandbox_settings, gateway):
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    for number, amount in (("RF-IDX-1", 100), ("RF-IDX-2", 250)):
        gateway.refund(refund_request(out_trade_no, amount, out_refund_no=number))
    answer = xml_to_dict(
        requests.post(
            sandbox.url + "/pay/refundquery",
            timeout=5,
            data=signed_xml(sandbox_settings, out_trade_no=out_trade_no),
        ).content,
        65536,
    )
    assert crypto.v2_verify(answer, sandbox_settings["WECHATPAY_API_KEY"])
    assert answer["refund_count"] == "2" and answer["total_fee"] == "1000"
    assert [answer["out_refund_no_0"], answer["out_refund_no_1"]] == ["RF-IDX-1", "RF-IDX-2"]
    assert [answer["refund_fee_0"], answer["refund_fee_1"]] == ["100", "250"]
    assert answer["refund_status_0"] == "SUCCESS" and answer["refund_channel_0"] == "ORIGINAL"
    assert answer["refund_recv_accout_0"] == "支付用户零钱"  # sic
    assert len(answer["refund_success_time_0"]) == len("2026-12-01 20:00:00")
    assert answer["refund_account_1"] == "REFUND_SOURCE_UNSETTLED_FUNDS"


# --- retries: the same out_refund_no is the same refund ---------------------------------------


def test_a_resent_refund_is_the_same_refund(sandbox, gateway):
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    request_ = refund_request(out_trade_no, 400)
    first, again = gateway.refund(request_), gateway.refund(request_)
    assert again.refund_id == first.refund_id
    assert len(sandbox_refunds(sandbox.url, out_trade_no)) == 1


def test_systemerror_is_retryable_and_the_retry_makes_one_refund(sandbox, gateway):
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    request_ = refund_request(out_trade_no, 500)
    for code in ("SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH"):
        arm(sandbox, {"kind": "api", "path": "/secapi/pay/refund", "status": 200, "code": code})
        with pytest.raises(ApiError) as error:
            gateway.refund(request_)
        assert error.value.retryable
        assert error.value.code == {"SYSTEMERROR": "SYSTEM_ERROR"}.get(code, code)
    assert gateway.refund(request_).status == "PROCESSING"
    assert len(sandbox_refunds(sandbox.url, out_trade_no)) == 1


def test_a_timeout_then_a_retry_makes_one_refund(sandbox, sandbox_settings):
    gateway = make_gateway(sandbox.url, sandbox_settings, timeout=1.0)
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    request_ = refund_request(out_trade_no, 600)
    # WeChat takes the refund but the answer comes too late: the outcome is unknown.
    arm(sandbox, {"kind": "api", "path": "/secapi/pay/refund", "delay": 1.5})
    with pytest.raises(TransportError):
        gateway.refund(request_)
    wait_for(lambda: sandbox_refunds(sandbox.url, out_trade_no))
    retried = gateway.refund(request_)
    (only,) = sandbox_refunds(sandbox.url, out_trade_no)
    assert only["refund_id"] == retried.refund_id


# --- refusals ----------------------------------------------------------------------------------


def test_definite_refusals_carry_their_code(sandbox, sandbox_settings, gateway):
    out_trade_no, _ = paid_order(gateway, sandbox.url)

    def refused(request_):
        with pytest.raises(ApiError) as error:
            gateway.refund(request_)
        assert not error.value.retryable
        return error.value.code

    arm(
        sandbox,
        {
            "kind": "api",
            "path": "/secapi/pay/refund",
            "status": 200,
            "code": "NOTENOUGH",
            "message": "基本账户余额不足",
        },
    )
    assert refused(refund_request(out_trade_no, 100)) == "NOT_ENOUGH"
    assert refused(refund_request(out_trade_no, 100, total=999)) == "REFUND_FEE_MISMATCH"
    gateway.refund(refund_request(out_trade_no, 700, out_refund_no="RF-REF-1"))
    assert (
        refused(refund_request(out_trade_no, 200, out_refund_no="RF-REF-1"))
        == "REFUND_FEE_MISMATCH"
    )  # same number, another amount
    assert refused(refund_request(out_trade_no, 301)) == "INVALID_REQUEST"  # 300 remain
    gateway.refund(refund_request(out_trade_no, 300))
    assert refused(refund_request(out_trade_no, 1)) == "ERROR"  # all refunded
    assert refused(refund_request("NOSUCHORDER01", 1)) == "ORDER_NOT_EXIST"
    with pytest.raises(ApiError) as error:
        gateway.query_refund("RF-NEVER-MADE")
    assert error.value.code == "RESOURCE_NOT_EXISTS"
    with pytest.raises(ValueError):  # refused before it is sent
        gateway.refund(refund_request(out_trade_no, 1001))
    # Sent anyway, WeChat answers it at the transport layer.
    raw = xml_to_dict(
        requests.post(
            sandbox.url + "/secapi/pay/refund",
            timeout=5,
            data=signed_xml(
                sandbox_settings,
                out_trade_no=out_trade_no,
                out_refund_no="RF-RAW-1",
                total_fee="1000",
                refund_fee="1001",
            ),
        ).content,
        65536,
    )
    assert (raw["return_code"], raw["return_msg"]) == ("FAIL", "invalid refund_fee")


def test_an_unpaid_order_and_the_fifty_refund_cap(sandbox, gateway):
    unpaid = f"V2UNPAID{next(_numbers):05d}"
    gateway.place_order(
        OrderRequest(
            out_trade_no=unpaid,
            description="未支付",
            total=100,
            openid="oV2Refund01",
            notify_url=DEAD_URL,
            time_expire=datetime.now(UTC) + timedelta(minutes=30),
        )
    )
    with pytest.raises(ApiError) as error:
        gateway.refund(refund_request(unpaid, 1, total=100))
    assert error.value.code == "ERROR"
    out_trade_no, _ = paid_order(gateway, sandbox.url, total=100)
    for _ in range(50):
        gateway.refund(refund_request(out_trade_no, 1, total=100))
    with pytest.raises(ApiError) as error:
        gateway.refund(refund_request(out_trade_no, 1, total=100))
    assert error.value.code == "ERROR" and "50" in error.value.message


def test_without_the_client_certificate_a_refund_is_not_sent(sandbox, sandbox_settings):
    gateway = make_gateway(sandbox.url, sandbox_settings, cert_session=None)
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    with pytest.raises(ApiError) as error:
        gateway.refund(refund_request(out_trade_no, 1))
    assert error.value.code == "CLIENT_CERT_NOT_CONFIGURED"
    assert "WECHATPAY_CERT" in error.value.message
    assert sandbox_refunds(sandbox.url, out_trade_no) == []


# --- refund faults: stay PROCESSING, end CHANGE (ABNORMAL) or REFUNDCLOSE (CLOSED) ---------------


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
def test_a_refund_that_ends_badly(sandbox, gateway, receiver, status):
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    arm(sandbox, {"kind": "refund", "status": status})
    accepted = gateway.refund(refund_request(out_trade_no, 1000, notify_url=receiver.url))
    (notification,) = wait_for(receiver.accepted)
    assert notification.event_type == f"REFUND.{status}"
    assert notification.refund.status == status and notification.refund.success_time is None
    assert gateway.query_refund(accepted.out_refund_no).status == status
    v2_status = {"ABNORMAL": "CHANGE", "CLOSED": "REFUNDCLOSE"}[status]
    assert notification.payload["refund_status"] == v2_status


def test_a_processing_refund_settles_when_told(sandbox, gateway, receiver):
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    arm(sandbox, {"kind": "refund", "status": "PROCESSING"})
    accepted = gateway.refund(refund_request(out_trade_no, 250, notify_url=receiver.url))
    assert gateway.query_refund(accepted.out_refund_no).status == "PROCESSING"
    assert receiver.outcomes == []
    requests.post(
        f"{sandbox.url}/sandbox/refunds/{accepted.out_refund_no}",
        json={"status": "SUCCESS"},
        timeout=5,
    ).raise_for_status()
    (notification,) = wait_for(receiver.accepted)
    assert notification.refund.status == "SUCCESS"
    assert gateway.query_refund(accepted.out_refund_no).status == "SUCCESS"


# --- notifications that must be refused ----------------------------------------------------------


def test_a_copy_encrypted_with_another_key_is_refused(sandbox, gateway, receiver):
    out_trade_no, _ = paid_order(gateway, sandbox.url)
    arm(sandbox, {"kind": "notify", "action": "tamper", "out_trade_no": out_trade_no})
    gateway.refund(refund_request(out_trade_no, 10, notify_url=receiver.url))
    wait_for(receiver.accepted)
    assert receiver.refused()[0] in ("DECRYPT_FAILED", "MALFORMED")
    assert len(receiver.accepted()) == 1


def notification(settings, info=None, key=None, **envelope):
    """A refund notification as WeChat builds it, with ``envelope`` fields changed."""
    plaintext = (
        info
        if isinstance(info, bytes)
        else (
            b"<root>"
            + dict_to_xml(
                info
                or {
                    "out_refund_no": "RF-FORGED-1",
                    "out_trade_no": "V2ORDER0001",
                    "refund_id": "50300000000000000000000000001",
                    "total_fee": "100",
                    "refund_fee": "100",
                    "refund_status": "SUCCESS",
                    "success_time": "2026-12-01 20:00:00",
                    "refund_recv_accout": "支付用户零钱",
                }
            )[5:-6]
            + b"</root>"
        )
    )
    fields = {
        "return_code": "SUCCESS",
        "appid": settings["WECHAT_APPID"],
        "mch_id": settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
        "req_info": crypto.aes_ecb_encrypt(
            crypto.v2_refund_key(key or settings["WECHATPAY_API_KEY"]), plaintext
        ),
    }
    fields.update(envelope)
    return dict_to_xml({k: v for k, v in fields.items() if v is not None})


def test_the_genuine_notification_parses(sandbox_settings):
    gateway = make_gateway("http://127.0.0.1:9", sandbox_settings, cert_session=None)
    parsed = gateway.parse_refund_notification({}, notification(sandbox_settings))
    assert parsed.event_id == "RF-FORGED-1:SUCCESS" and parsed.refund.refund == 100
    assert (parsed.refund.appid, parsed.refund.mchid) == (
        sandbox_settings["WECHAT_APPID"],
        sandbox_settings["WECHATPAY_MCHID"],
    )


def test_whose_refund_it_is_comes_back_for_the_caller_to_check(sandbox_settings):
    """The merchant's gateway decrypts it; the domain checks appid and mch_id against the
    refund's order (and keeps a genuine message for another merchant for a person)."""
    gateway = make_gateway("http://127.0.0.1:9", sandbox_settings, cert_session=None)
    body = notification(sandbox_settings, appid="wx0000000000000000", mch_id="1900000000")
    refund = gateway.parse_refund_notification({}, body).refund
    assert (refund.appid, refund.mchid) == ("wx0000000000000000", "1900000000")


@pytest.mark.parametrize(
    "change, code",
    [
        ({"key": "k" * 32}, "DECRYPT_FAILED"),  # not our API key
        ({"req_info": "bm90IGVuY3J5cHRlZA=="}, "DECRYPT_FAILED"),  # not a whole block
        ({"req_info": "not base64 at all!"}, "DECRYPT_FAILED"),
        ({"req_info": None}, "MALFORMED"),
        ({"return_code": "FAIL"}, "NOT_SUCCESS"),
        ({"info": b"<xml><out_refund_no>1</out_refund_no></xml>"}, "MALFORMED"),
        ({"info": b"not xml"}, "MALFORMED"),
        (
            {
                "info": {
                    "out_refund_no": "RF1",
                    "out_trade_no": "O1",
                    "total_fee": "100",
                    "refund_fee": "100",
                    "refund_status": "PROCESSING",
                }
            },
            "MALFORMED",
        ),
        (
            {
                "info": {
                    "out_refund_no": "RF1",
                    "out_trade_no": "O1",
                    "total_fee": "100",
                    "refund_fee": "1.00",
                    "refund_status": "SUCCESS",
                }
            },
            "MALFORMED",
        ),
        (
            {
                "info": {
                    "out_refund_no": "RF1",
                    "out_trade_no": "O1",
                    "total_fee": "100",
                    "refund_fee": "100",
                    "refund_status": "REFUNDED",
                }
            },
            "MALFORMED",
        ),
        (
            {
                "info": {
                    "out_refund_no": "RF1",
                    "out_trade_no": "O1",
                    "total_fee": "100",
                    "refund_fee": "100",
                    "refund_status": "SUCCESS",
                    "success_time": "20261201200000",
                }
            },
            "MALFORMED",
        ),
    ],
)
def test_refund_notifications_that_are_refused(sandbox_settings, change, code):
    gateway = make_gateway("http://127.0.0.1:9", sandbox_settings, cert_session=None)
    with pytest.raises(NotificationError) as error:
        gateway.parse_refund_notification({}, notification(sandbox_settings, **change))
    assert error.value.code == code


def test_a_body_that_is_not_xml_is_refused(sandbox_settings):
    gateway = make_gateway("http://127.0.0.1:9", sandbox_settings, cert_session=None)
    for body in (b"", b"{}", b'<!DOCTYPE x [<!ENTITY a "b">]><xml><req_info>&a;</req_info></xml>'):
        with pytest.raises(NotificationError) as error:
            gateway.parse_refund_notification({}, body)
        assert error.value.code == "MALFORMED"


# --- mutual TLS --------------------------------------------------------------------------------


def test_refund_over_mutual_tls_end_to_end(https_sandbox, sandbox_settings, tls):
    gateway = make_gateway(https_sandbox.url, sandbox_settings, ca_bundle=tls["ca"])
    assert gateway.api_base.startswith("https://")
    out_trade_no, _ = paid_order(gateway, https_sandbox.url, verify=tls["ca"])
    accepted = gateway.refund(refund_request(out_trade_no, 420))
    assert accepted.status == "PROCESSING" and accepted.refund == 420
    assert gateway.query_refund(accepted.out_refund_no).status == "SUCCESS"


def test_secapi_over_tls_refuses_a_request_without_client_certificate(
    https_sandbox, sandbox_settings, tls
):
    gateway = make_gateway(
        https_sandbox.url,
        sandbox_settings,
        ca_bundle=tls["ca"],
        cert_session=plain_session(tls["ca"]),
    )
    out_trade_no, _ = paid_order(gateway, https_sandbox.url, verify=tls["ca"])
    with pytest.raises(ApiError) as error:
        gateway.refund(refund_request(out_trade_no, 1))
    assert "证书" in error.value.message and not error.value.retryable
    assert sandbox_refunds(https_sandbox.url, out_trade_no, verify=tls["ca"]) == []
    # Only /secapi/ needs the certificate: the query path answers without one.
    with pytest.raises(ApiError) as error:
        gateway.query_refund("RF-NOT-THERE")
    assert error.value.code == "RESOURCE_NOT_EXISTS"


def test_secapi_over_tls_refuses_another_certificate(
    https_sandbox, sandbox_settings, tls, tmp_path
):
    stranger = _new_key()
    (tmp_path / "cert.pem").write_bytes(self_signed_certificate(stranger, "stranger"))
    (tmp_path / "key.pem").write_bytes(_key_pem(stranger))
    gateway = make_gateway(
        https_sandbox.url,
        sandbox_settings,
        ca_bundle=tls["ca"],
        cert_session=client_cert_session(
            str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"), tls["ca"]
        ),
    )
    out_trade_no, _ = paid_order(gateway, https_sandbox.url, verify=tls["ca"])
    with pytest.raises(TransportError):  # the TLS handshake fails: not issued by the CA
        gateway.refund(refund_request(out_trade_no, 1))
    assert sandbox_refunds(https_sandbox.url, out_trade_no, verify=tls["ca"]) == []


# --- settings ----------------------------------------------------------------------------------


@pytest.fixture
def v2_settings(dev_keys, tmp_path):
    return {
        **dev_keys,
        "WECHATPAY_API_VERSION": "v2",
        "WECHATPAY_NOTIFY_URL": "http://127.0.0.1:5000/api/pay/notify",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
    }


def test_the_app_loads_the_client_certificate_once_at_start(v2_settings):
    gateway = create_backend(v2_settings).extensions["wechatpay"]
    assert gateway.cert_session is not None
    without = create_backend(
        {**v2_settings, "WECHATPAY_CERT": "", "WECHATPAY_PRIVATE_KEY": ""}
    ).extensions["wechatpay"]
    assert without is not None and without.cert_session is None  # v2 payments still work


@pytest.mark.parametrize("name", ["WECHATPAY_CERT", "WECHATPAY_PRIVATE_KEY"])
def test_half_a_client_certificate_is_named(v2_settings, name):
    with pytest.raises(ConfigError, match=name):
        create_backend({**v2_settings, name: ""})


def test_a_certificate_that_does_not_match_the_key_is_named(v2_settings, dev_keys):
    with pytest.raises(ConfigError, match="WECHATPAY_CERT"):
        create_backend({**v2_settings, "WECHATPAY_CERT": dev_keys["SANDBOX_PLATFORM_CERT"]})


@pytest.mark.parametrize("name", ["WECHATPAY_CERT", "WECHATPAY_PRIVATE_KEY"])
def test_production_v2_refuses_to_start_without_the_client_certificate(
    production,
    dev_keys,
    name,
):
    v2 = {
        **production,
        "WECHATPAY_API_VERSION": "v2",
        "WECHATPAY_PUBLIC_KEY": "",
        "WECHATPAY_PUBLIC_KEY_ID": "",
    }  # v3 only
    assert create_backend(v2).extensions["wechatpay"].cert_session is not None
    with pytest.raises(ConfigError, match=f"{name} is required in production"):
        create_backend({**v2, name: ""})
    with pytest.raises(ConfigError, match="WECHATPAY_CERT names a generated development key"):
        create_backend({**v2, "WECHATPAY_CERT": dev_keys["WECHATPAY_CERT"]})


def test_python_m_sandbox_serves_https_and_checks_secapi(sandbox_settings, tls):
    """The command line option, as a developer runs it: ``python -m sandbox --tls-cert ...``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **sandbox_settings, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--tls-cert",
            tls["cert"],
            "--tls-key",
            tls["key"],
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    try:

        def up():
            try:
                return requests.get(url + "/sandbox/health", verify=tls["ca"], timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=20)
        body = signed_xml(
            sandbox_settings,
            out_trade_no="NOSUCHORDER02",
            out_refund_no="RF-CLI-1",
            total_fee="100",
            refund_fee="1",
        )

        def answer(**tls_options):
            return xml_to_dict(
                requests.post(
                    url + "/secapi/pay/refund",
                    data=body,
                    verify=tls["ca"],
                    timeout=5,
                    **tls_options,
                ).content,
                65536,
            )

        refused = answer()
        assert refused["return_code"] == "FAIL" and "证书" in refused["return_msg"]
        merchant = (sandbox_settings["WECHATPAY_CERT"], sandbox_settings["WECHATPAY_PRIVATE_KEY"])
        assert answer(cert=merchant)["err_code"] == "ORDERNOTEXIST"  # past the certificate
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- a third-party v2 SDK ------------------------------------------------------------------------


def test_wechatpy_refunds_over_mutual_tls(https_sandbox, sandbox_settings, tls, monkeypatch):
    """wechatpy (the Python v2 SDK) refunds, queries and decrypts the refund notification
    against the HTTPS simulator, given only the base URL, the keys and the merchant
    certificate; it trusts the test CA through REQUESTS_CA_BUNDLE like any requests user."""
    try:
        from wechatpy.exceptions import WeChatPayException
        from wechatpy.pay import WeChatPay
    except ImportError:  # pragma: no cover - requirements-dev.txt installs it
        WeChatPay = None
    require(WeChatPay is not None, "wechatpy is not installed (requirements-dev.txt)")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls["ca"])
    settings = sandbox_settings

    def sdk(**cert):
        client = WeChatPay(
            appid=settings["WECHAT_APPID"],
            api_key=settings["WECHATPAY_API_KEY"],
            mch_id=settings["WECHATPAY_MCHID"],
            timeout=5,
            **cert,
        )
        client.API_BASE_URL = https_sandbox.url + "/"  # the only change from production
        return client

    client = sdk(mch_cert=settings["WECHATPAY_CERT"], mch_key=settings["WECHATPAY_PRIVATE_KEY"])
    ours = make_gateway(https_sandbox.url, settings, ca_bundle=tls["ca"])
    receiver = RefundReceiver(ours)
    try:
        out_trade_no, transaction_id = paid_order(ours, https_sandbox.url, verify=tls["ca"])
        with pytest.raises(WeChatPayException) as refused:  # no client certificate
            sdk().refund.apply(
                total_fee=1000, refund_fee=300, out_refund_no="RF-SDK-0", out_trade_no=out_trade_no
            )
        assert refused.value.return_code == "FAIL"

        applied = client.refund.apply(
            total_fee=1000,
            refund_fee=300,
            out_refund_no="RF-SDK-1",
            out_trade_no=out_trade_no,
            notify_url=receiver.url,
            refund_desc="SDK",
        )
        assert applied["refund_id"].startswith("50") and applied["refund_fee"] == "300"
        queried = client.refund.query(out_refund_no="RF-SDK-1")
        assert (queried["refund_status_0"], queried["refund_recv_accout_0"]) == (
            "SUCCESS",
            "支付用户零钱",
        )
        wait_for(receiver.accepted)
        notified = client.parse_refund_notify_result(receiver.bodies[0])
        assert (notified["out_refund_no"], notified["refund_status"], notified["refund_fee"]) == (
            "RF-SDK-1",
            "SUCCESS",
            300,
        )
        assert notified["transaction_id"] == transaction_id
    finally:
        receiver.server.stop()
