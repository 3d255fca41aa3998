"""Refunds on API v2 end to end, on SQLite and PostgreSQL: the domain calls the simulator's
/secapi/pay/refund, the simulator sends its v2 refund notification (req_info) to
/api/refund/notify, and the order shows REFUNDED. Duplicates apply once; undecryptable, foreign
and unknown notifications change nothing.
"""

import pytest
import requests

from sandbox.tls import server_context
from server.wechatpay import crypto
from server.wechatpay.v2.messages import dict_to_xml, xml_to_dict
from tests.support import wait_for
from tests.support.orders import COFFEE, paid_order
from tests.support.refunds import (
    cli_result,
    order_status,
    place_refund,
    refund_statuses,
    wait_refund,
    wechat_refunds,
)
from tests.support.tls import make_tls

SECAPI_REFUND = "/secapi/pay/refund"


@pytest.fixture
def v2_stack(make_stack, sign_type):
    return make_stack(WECHATPAY_API_VERSION="v2", WECHATPAY_V2_SIGN_TYPE=sign_type)


def refund_events(stack):
    return stack.query(
        "SELECT event_type FROM payment_events WHERE source = 'notify' "
        "AND refund_id IS NOT NULL ORDER BY id"
    )


def delivered(stack, out_trade_no, count):
    """The refund notification attempts the simulator logged (v2 logs the refund_id), once
    there are ``count`` (an attempt is logged when the simulator has read the reply)."""

    def attempts():
        found = [
            d
            for d in stack.notifications()
            if d["out_trade_no"] == out_trade_no and d["event_id"].startswith("50")
        ]
        return found if len(found) >= count else None

    return wait_for(attempts)


def post_notify(stack, body):
    response = requests.post(
        f"{stack.backend}/api/refund/notify", data=body, headers={"Content-Type": "text/xml"}
    )
    return response.status_code, xml_to_dict(response.content, 65536)["return_code"]


def v2_notification(stack, order, refund, api_key=None, **changes):
    """A v2 refund notification as WeChat builds it (by hand: no simulator code)."""
    info = {
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "refund_id": refund.get("refund_id") or "50300000000000000000000000009",
        "out_refund_no": refund["out_refund_no"],
        "total_fee": str(COFFEE),
        "refund_fee": str(refund["amount"]),
        "refund_status": "SUCCESS",
        "success_time": "2026-12-01 20:00:00",
        "refund_recv_accout": "支付用户零钱",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_request_source": "API",
    }
    envelope = {
        "return_code": "SUCCESS",
        "appid": stack.settings["WECHAT_APPID"],
        "mch_id": stack.settings["WECHATPAY_MCHID"],
        "nonce_str": crypto.nonce(),
    }
    envelope.update({k: v for k, v in changes.items() if k in envelope})
    info.update({k: v for k, v in changes.items() if k in info})
    plaintext = b"<root>" + dict_to_xml(info)[5:-6] + b"</root>"
    key = crypto.v2_refund_key(api_key or stack.settings["WECHATPAY_API_KEY"])
    return dict_to_xml({**envelope, "req_info": crypto.aes_ecb_encrypt(key, plaintext)})


def test_partial_refunds_then_refunded_through_v2_notifications(v2_stack):
    auth, order = paid_order(v2_stack)
    first = place_refund(v2_stack, order["id"], 500, reason="少了一杯")
    # PROCESSING when WeChat answered, or already SUCCESS if its notification was quicker.
    assert first["status"] in ("PROCESSING", "SUCCESS") and first["refund_id"].startswith("50")
    wait_refund(v2_stack, first["out_refund_no"], "SUCCESS")  # the v2 notification
    shown = v2_stack.order(auth, order["id"]).json()["order"]
    assert (shown["status"], shown["refunded"]) == ("PAID", 500)

    rest = place_refund(v2_stack, order["id"], COFFEE - 500)
    wait_refund(v2_stack, rest["out_refund_no"], "SUCCESS")
    shown = v2_stack.order(auth, order["id"]).json()["order"]
    assert (shown["status"], shown["refunded"]) == ("REFUNDED", COFFEE)
    assert [r["status"] for r in shown["refunds"]] == ["SUCCESS", "SUCCESS"]
    assert shown["refunds"][0]["user_received_account"] == "支付用户零钱"
    assert refund_events(v2_stack) == [("REFUND.SUCCESS",), ("REFUND.SUCCESS",)]
    # Each notification was acknowledged at the first attempt, with v2's SUCCESS XML.
    assert [d["acknowledged"] for d in delivered(v2_stack, order["out_trade_no"], 2)] == [
        True,
        True,
    ]


def test_duplicated_notifications_apply_once(v2_stack):
    _, order = paid_order(v2_stack)
    v2_stack.control(
        "faults", kind="notify", action="duplicate", copies=4, out_trade_no=order["out_trade_no"]
    )
    refund = place_refund(v2_stack, order["id"], COFFEE)
    assert all(d["acknowledged"] for d in delivered(v2_stack, order["out_trade_no"], 4))
    assert refund_statuses(v2_stack, order["id"]) == ["SUCCESS"]
    assert order_status(v2_stack, order["id"]) == "REFUNDED"
    assert refund_events(v2_stack) == [("REFUND.SUCCESS",)]
    # WeChat resending it later is acknowledged and still recorded once.
    refund = {
        **refund,
        "refund_id": wechat_refunds(v2_stack, order["out_trade_no"])[0]["refund_id"],
    }
    assert post_notify(v2_stack, v2_notification(v2_stack, order, refund)) == (200, "SUCCESS")
    assert refund_events(v2_stack) == [("REFUND.SUCCESS",)]


def test_refused_notifications_change_nothing(v2_stack):
    _, order = paid_order(v2_stack)
    v2_stack.control("faults", kind="refund", status="PROCESSING")
    refund = place_refund(v2_stack, order["id"], COFFEE)
    refusals = [
        v2_notification(v2_stack, order, refund, api_key="k" * 32),  # not our key
        # Another appid than the order's channel's (kept: v2 tells messages apart by refund
        # and status only, so this one reports another status than the amount case below).
        v2_notification(
            v2_stack, order, refund, appid="wx0000000000000000", refund_status="CHANGE"
        ),
        v2_notification(v2_stack, order, refund, out_refund_no="RNOTOURS0001"),  # unknown
        v2_notification(v2_stack, order, refund, refund_fee="1"),  # contradicts ours
        b"<xml><return_code>SUCCESS</return_code></xml>",
        b"not xml",
    ]
    for body in refusals:
        assert post_notify(v2_stack, body) == (400, "FAIL")
    assert refund_statuses(v2_stack, order["id"]) == ["PROCESSING"]
    assert order_status(v2_stack, order["id"]) == "PAID"
    # The three that decrypt (so come from WeChat) but do not match are kept for a person:
    # another appid than the order's channel's, an unknown refund, another amount.
    assert v2_stack.query(
        "SELECT event_type FROM payment_events WHERE source = 'notify' "
        "AND event_type LIKE 'REFUSED.%' ORDER BY id"
    ) == [
        ("REFUSED.MERCHANT_MISMATCH",),
        ("REFUSED.REFUND_NOT_FOUND",),
        ("REFUSED.AMOUNT_MISMATCH",),
    ]

    # The simulator's own bad copy (encrypted with another key) is refused; the real one is not.
    v2_stack.control("faults", kind="notify", action="tamper", out_trade_no=order["out_trade_no"])
    v2_stack.control(f"refunds/{refund['out_refund_no']}", status="SUCCESS")
    wait_refund(v2_stack, refund["out_refund_no"], "SUCCESS")
    attempts = delivered(v2_stack, order["out_trade_no"], 2)
    assert [(d["fault"], d["status"], d["acknowledged"]) for d in attempts] == [
        ("tamper", 400, False),
        (None, 200, True),
    ]
    assert refund_events(v2_stack)[-1] == ("REFUND.SUCCESS",)


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
def test_change_and_refundclose_notifications(v2_stack, status):
    _, order = paid_order(v2_stack)
    v2_stack.control("faults", kind="refund", status=status)
    refund = place_refund(v2_stack, order["id"], COFFEE)
    wait_refund(v2_stack, refund["out_refund_no"], status)  # told as CHANGE / REFUNDCLOSE
    assert refund_events(v2_stack) == [(f"REFUND.{status}",)]
    assert order_status(v2_stack, order["id"]) == "PAID"


def test_v2_cannot_send_an_abnormal_refund_again(v2_stack):
    """v2 has no apply-abnormal-refund: the gateway refuses (Unsupported) before sending
    anything, and the command sends the merchant to the merchant platform."""
    _, order = paid_order(v2_stack)
    v2_stack.control("faults", kind="refund", status="ABNORMAL")
    refund = place_refund(v2_stack, order["id"], COFFEE)
    wait_refund(v2_stack, refund["out_refund_no"], "ABNORMAL")
    with v2_stack.app.app_context():
        result = v2_stack.app.test_cli_runner().invoke(
            args=["refunds", "apply-abnormal", refund["out_refund_no"], "--type", "USER_BANK_CARD"]
        )
    assert result.exit_code == 1
    assert "API v2 has no such call: use the merchant platform" in result.output
    assert refund_statuses(v2_stack, order["id"]) == ["ABNORMAL"]


def test_a_timeout_is_retried_with_the_same_out_refund_no(v2_stack):
    _, order = paid_order(v2_stack)
    v2_stack.control("faults", kind="api", path=SECAPI_REFUND, delay=3)  # > the 2 s timeout
    v2_stack.control("faults", kind="notify", action="drop")
    pending = place_refund(v2_stack, order["id"], 700)
    assert pending["status"] == "PENDING"
    wait_for(lambda: wechat_refunds(v2_stack, order["out_trade_no"]))
    v2_stack.control("faults", kind="api", path=SECAPI_REFUND, status=200, code="SYSTEMERROR")
    code, output = cli_result(v2_stack, "refunds", "sync", "--older-than", "0")
    assert code == 75 and "'pending': 1" in output  # EX_TEMPFAIL: not done, the next run is
    # v2's answer to a resent refund says only "accepted", whatever its state: the next
    # sweep queries it.
    assert "'processing': 1" in v2_stack.cli("refunds", "sync", "--older-than", "0")
    assert "'success': 1" in v2_stack.cli("refunds", "sync", "--older-than", "0")
    (at_wechat,) = wechat_refunds(v2_stack, order["out_trade_no"])
    assert at_wechat["out_refund_no"] == pending["out_refund_no"]


def test_processing_refunds_are_settled_by_refundquery(v2_stack):
    _, order = paid_order(v2_stack)
    v2_stack.control("faults", kind="refund", status="PROCESSING")
    processing = place_refund(v2_stack, order["id"], COFFEE)
    assert "'unchanged': 1" in v2_stack.cli("reconcile", "--older-than", "0")
    v2_stack.control("faults", kind="notify", action="drop")
    v2_stack.control(f"refunds/{processing['out_refund_no']}", status="SUCCESS")
    assert "'success': 1" in v2_stack.cli("reconcile", "--older-than", "0")
    assert order_status(v2_stack, order["id"]) == "REFUNDED"


def test_notenough_is_a_definite_refusal(v2_stack):
    _, order = paid_order(v2_stack)
    v2_stack.control(
        "faults",
        kind="api",
        path=SECAPI_REFUND,
        status=200,
        code="NOTENOUGH",
        message="基本账户余额不足，请充值后重新发起",
    )
    failed = place_refund(v2_stack, order["id"], 100)
    assert (failed["status"], failed["error_code"]) == ("FAILED", "NOT_ENOUGH")
    assert wechat_refunds(v2_stack, order["out_trade_no"]) == []


@pytest.fixture
def mtls_stack(make_stack, dev_keys, tmp_path, monkeypatch):
    """The simulator over HTTPS (test CA), so /secapi/ wants the merchant's certificate, and a
    v2 backend that trusts the CA through REQUESTS_CA_BUNDLE, as a deployment would its own."""
    tls = make_tls(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls["ca"])
    context = server_context(tls["cert"], tls["key"], dev_keys["WECHATPAY_CERT"])
    return make_stack(sandbox_ssl_context=context, WECHATPAY_API_VERSION="v2")


def test_a_refund_through_the_backend_over_mutual_tls(mtls_stack):
    assert mtls_stack.sandbox.startswith("https://")
    auth, order = paid_order(mtls_stack)
    refund = place_refund(mtls_stack, order["id"], COFFEE)
    assert refund["refund_id"].startswith("50")  # /secapi/ took the client certificate
    wait_refund(mtls_stack, refund["out_refund_no"], "SUCCESS")
    assert mtls_stack.order(auth, order["id"]).json()["order"]["status"] == "REFUNDED"
