"""Refund notifications (API v3) at /api/refund/notify: verified like payment notifications,
recorded once before they act; refused ones change nothing."""

import json

import requests

from tests.support import wait_for
from tests.support.concurrency import at_once
from tests.support.notifications import signed_notification
from tests.support.orders import COFFEE, paid_order
from tests.support.refunds import order_status, place_refund, refund_statuses, wait_refund


def processing_refund(stack, amount=COFFEE):
    """A paid order and a refund of it that WeChat holds PROCESSING (no notification yet)."""
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="PROCESSING")
    refund = place_refund(stack, order["id"], amount)
    assert refund["status"] == "PROCESSING"
    return order, refund


def resource_for(stack, order, refund, **changes):
    """The decrypted resource WeChat would send when ``refund`` succeeds."""
    resource = {
        "mchid": stack.settings["WECHATPAY_MCHID"],
        "out_trade_no": order["out_trade_no"],
        "transaction_id": order["transaction_id"],
        "refund_id": refund["refund_id"],
        "out_refund_no": refund["out_refund_no"],
        "refund_status": "SUCCESS",
        "success_time": "2026-11-22T10:40:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": COFFEE,
            "refund": refund["amount"],
            "payer_total": COFFEE,
            "payer_refund": refund["amount"],
        },
    }
    resource.update(changes)
    return resource


def post(stack, headers, body):
    return requests.post(f"{stack.backend}/api/refund/notify", data=body, headers=headers)


def refund_events(stack):
    return stack.query(
        "SELECT event_type FROM payment_events WHERE source = 'notify' "
        "AND event_type <> 'TRANSACTION.SUCCESS' ORDER BY id"
    )


def notify(stack, resource, event_type="REFUND.SUCCESS", **options):
    return signed_notification(
        stack.settings, resource, event_type=event_type, kind="refund", **options
    )


def test_a_genuine_notification_settles_the_refund_once(stack):
    order, refund = processing_refund(stack)
    headers, body = notify(stack, resource_for(stack, order, refund))
    assert post(stack, headers, body).status_code == 204
    assert refund_statuses(stack, order["id"]) == ["SUCCESS"]
    assert order_status(stack, order["id"]) == "REFUNDED"
    assert post(stack, headers, body).status_code == 204  # a resend is acknowledged...
    assert refund_events(stack) == [("REFUND.SUCCESS",)]  # ...and recorded once
    stored = stack.query(
        "SELECT payload, refund_id FROM payment_events WHERE event_type = 'REFUND.SUCCESS'"
    )
    assert json.loads(stored[0][0])["out_refund_no"] == refund["out_refund_no"]
    assert stored[0][1] == refund["id"]


def test_forged_undecryptable_and_probing_notifications_change_nothing(stack):
    order, refund = processing_refund(stack)
    resource = resource_for(stack, order, refund)
    refused = [
        notify(stack, resource, key_path=stack.settings["WECHATPAY_PRIVATE_KEY"]),  # not WeChat
        notify(stack, resource, apiv3_key="k" * 32),  # wrong key
        notify(stack, resource, timestamp=1_600_000_000),  # replayed
        notify(stack, resource, signature="WECHATPAY/SIGNTEST/abc"),  # probe
        notify(stack, resource, serial="PUB_KEY_ID_0000000000000000000000000000"),  # unknown
        notify(stack, resource, event_type="TRANSACTION.SUCCESS"),  # not refund
    ]
    for headers, body in refused:
        response = post(stack, headers, body)
        assert response.status_code == 400 and response.json()["code"] == "FAIL"
    headers, body = refused[0]
    assert post(stack, headers, b"not json at all").status_code == 400
    assert refund_statuses(stack, order["id"]) == ["PROCESSING"]
    assert order_status(stack, order["id"]) == "PAID"
    assert stack.query(
        "SELECT COUNT(*) FROM payment_events WHERE source = 'notify' AND refund_id IS NOT NULL"
    ) == [(0,)]


def test_a_refund_for_another_merchant_is_refused_kept_and_changes_nothing(stack):
    """Genuine (WeChat's keys) but naming another merchant than the order's channel."""
    order, refund = processing_refund(stack)
    headers, body = notify(stack, resource_for(stack, order, refund, mchid="1900000000"))
    for _ in range(2):  # kept once however often it comes
        response = post(stack, headers, body)
        assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert refund_statuses(stack, order["id"]) == ["PROCESSING"]
    assert order_status(stack, order["id"]) == "PAID"
    assert refund_events(stack) == [("REFUSED.MERCHANT_MISMATCH",)]


def test_unknown_and_contradicting_refunds_are_refused_but_kept_for_a_person(stack):
    order, refund = processing_refund(stack, amount=600)
    unknown = resource_for(stack, order, refund, out_refund_no="RNOTOURS0000001")
    headers, body = notify(stack, unknown)
    assert post(stack, headers, body).status_code == 400
    other_amount = resource_for(stack, order, refund, amount={"total": COFFEE, "refund": 900})
    headers, body = notify(stack, other_amount)
    assert post(stack, headers, body).status_code == 400
    assert post(stack, headers, body).status_code == 400  # kept once however often it comes
    assert refund_statuses(stack, order["id"]) == ["PROCESSING"]
    assert refund_events(stack) == [("REFUSED.REFUND_NOT_FOUND",), ("REFUSED.AMOUNT_MISMATCH",)]

    # SUCCESS, then WeChat says CLOSED: that cannot both be true; the refund stays SUCCESS.
    headers, body = notify(stack, resource_for(stack, order, refund))
    assert post(stack, headers, body).status_code == 204
    headers, body = notify(
        stack,
        resource_for(stack, order, refund, refund_status="CLOSED"),
        event_type="REFUND.CLOSED",
    )
    assert post(stack, headers, body).status_code == 400
    assert refund_statuses(stack, order["id"]) == ["SUCCESS"]
    assert refund_events(stack)[-1] == ("REFUSED.STATUS_CONFLICT",)


def test_concurrent_copies_change_the_refund_once(stack):
    order, refund = processing_refund(stack)
    headers, body = notify(stack, resource_for(stack, order, refund))
    statuses = at_once([lambda: post(stack, headers, body).status_code] * 10)
    assert statuses == [204] * 10
    assert refund_events(stack) == [("REFUND.SUCCESS",)]
    assert refund_statuses(stack, order["id"]) == ["SUCCESS"]
    assert order_status(stack, order["id"]) == "REFUNDED"


def test_duplicated_and_probed_deliveries_from_the_simulator(stack):
    """The simulator's notification faults on a real refund notification: copies sent at once,
    a SIGNTEST probe and a tampered body first, each refused or deduplicated."""
    order, refund = processing_refund(stack)
    stack.control(
        "faults",
        faults=[
            {"kind": "notify", "action": "duplicate", "copies": 4},
            {"kind": "notify", "action": "signtest"},
            {"kind": "notify", "action": "tamper"},
        ],
    )
    stack.control(f"refunds/{refund['out_refund_no']}", status="SUCCESS")
    wait_refund(stack, refund["out_refund_no"], "SUCCESS")

    def refund_deliveries():
        return [d for d in stack.notifications() if d["url"].endswith("/api/refund/notify")]

    wait_for(lambda: len([d for d in refund_deliveries() if d["acknowledged"]]) == 4)
    probes = [d for d in refund_deliveries() if d["fault"] in ("signtest", "tamper")]
    assert [d["status"] for d in probes] == [400, 400]
    assert refund_events(stack) == [("REFUND.SUCCESS",)]
    assert order_status(stack, order["id"]) == "REFUNDED"


def test_when_only_a_tampered_copy_arrives_the_job_settles_the_refund(stack):
    order, refund = processing_refund(stack)
    stack.control(
        "faults",
        faults=[{"kind": "notify", "action": "tamper"}, {"kind": "notify", "action": "drop"}],
    )
    stack.control(f"refunds/{refund['out_refund_no']}", status="SUCCESS")
    wait_for(lambda: any(d["fault"] == "tamper" for d in stack.notifications()))
    assert refund_statuses(stack, order["id"]) == ["PROCESSING"]  # only the bad copy came
    assert "'success': 1" in stack.cli("refunds", "sync", "--older-than", "0")
    assert order_status(stack, order["id"]) == "REFUNDED"
