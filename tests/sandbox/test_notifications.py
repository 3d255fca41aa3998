"""The cashier and payment notifications: signed, encrypted, retried until acknowledged, faults."""

import json
import re
import time

import pytest
import requests
import xmltodict

from server.wechatpay.crypto import aes_gcm_decrypt
from tests.support import wait_for
from tests.support.simulator import (
    Merchant,
    arm,
    cashier,
    deliveries,
    platform_serial,
    start_sandbox,
)


def place_and_pay(sandbox, merchant, out_trade_no, notify_url, total=100):
    prepay_id = merchant.place(out_trade_no, notify_url, total=total).json()["prepay_id"]
    paid = cashier(sandbox, prepay_id)
    assert paid.status_code == 200, paid.text
    return paid.json()


def decrypt(settings, body):
    resource = json.loads(body)["resource"]
    return json.loads(
        aes_gcm_decrypt(
            settings["WECHATPAY_APIV3_KEY"],
            resource["nonce"],
            resource["ciphertext"],
            resource["associated_data"],
        )
    )


def received_headers(receiver, index=0):
    with receiver.lock:
        return receiver.received[index]["headers"]


# --- the genuine notification ----------------------------------------------------------------


def test_payment_sends_a_signed_encrypted_notification(
    sandbox, merchant, receiver, sandbox_settings
):
    paid = place_and_pay(sandbox, merchant, "NOTIFY0001", receiver.url, total=1234)
    assert re.fullmatch(r"4200\d{24}", paid["transaction_id"])
    (body,) = wait_for(receiver.bodies)
    headers = received_headers(receiver)
    assert merchant.verify(headers, body)
    assert headers["Wechatpay-Serial"] == platform_serial(sandbox_settings)
    assert headers["Content-Type"] == "application/json"

    event = json.loads(body)
    assert event["id"] == paid["event_id"] and len(event["id"]) == 36
    assert event["event_type"] == "TRANSACTION.SUCCESS"
    assert event["resource_type"] == "encrypt-resource"
    assert event["create_time"].endswith("+08:00")
    resource = event["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    assert resource["associated_data"] == "transaction" and len(resource["nonce"]) == 12

    transaction = decrypt(sandbox_settings, body)
    assert transaction["out_trade_no"] == "NOTIFY0001"
    assert transaction["transaction_id"] == paid["transaction_id"]
    assert transaction["trade_state"] == "SUCCESS" and transaction["trade_type"] == "JSAPI"
    assert transaction["amount"]["total"] == 1234 == transaction["amount"]["payer_total"]
    assert transaction["appid"] == merchant.appid and transaction["mchid"] == merchant.mchid
    queried = merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/NOTIFY0001?mchid={merchant.mchid}"
    ).json()
    assert queried == transaction

    (attempt,) = wait_for(lambda: deliveries(sandbox, "NOTIFY0001"))
    assert attempt["status"] == 204 and attempt["acknowledged"] and attempt["attempt"] == 1
    assert attempt["event_id"] == event["id"] and attempt["url"] == receiver.url


def test_public_key_mode_notifications(sandbox_settings, receiver):
    server = start_sandbox(sandbox_settings, SANDBOX_NOTIFY_PUBLIC_KEY_RATIO="1")
    try:
        merchant = Merchant(server.url, sandbox_settings)
        place_and_pay(server, merchant, "PUBNOTIFY1", receiver.url)
        (body,) = wait_for(receiver.bodies)
        headers = received_headers(receiver)
        assert headers["Wechatpay-Serial"] == sandbox_settings["WECHATPAY_PUBLIC_KEY_ID"]
        assert merchant.verify(headers, body)
    finally:
        server.stop()


def test_cancel_leaves_the_order_unpaid_and_silent(sandbox, merchant, receiver):
    prepay_id = merchant.place("CANCELED01", receiver.url).json()["prepay_id"]
    cancelled = cashier(sandbox, prepay_id, action="cancel").json()
    assert cancelled == {"out_trade_no": "CANCELED01", "trade_state": "NOTPAY"}
    # A later payment's notification arrives; the cancelled order's never did.
    place_and_pay(sandbox, merchant, "AFTERCANCL", receiver.url)
    wait_for(lambda: deliveries(sandbox, "AFTERCANCL"))
    assert deliveries(sandbox, "CANCELED01") == []
    assert len(receiver.bodies()) == 1
    state = requests.get(sandbox.url + "/sandbox/orders/CANCELED01", timeout=5).json()
    assert state["order"]["trade_state"] == "NOTPAY"
    assert cashier(sandbox, prepay_id).json()["trade_state"] == "SUCCESS"  # may still pay
    wait_for(lambda: deliveries(sandbox, "CANCELED01"))


def test_cashier_refusals(sandbox, merchant, receiver):
    unknown = cashier(sandbox, "wx20300101000000deadbeefdeadbeefdead")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "PREPAY_NOT_FOUND"
    prepay_id = merchant.place("PAYTWICE01", receiver.url).json()["prepay_id"]
    assert cashier(sandbox, prepay_id).status_code == 200
    twice = cashier(sandbox, prepay_id)
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "ORDERPAID"
    bad = cashier(sandbox, prepay_id, action="refund")
    assert bad.status_code == 400
    assert len(wait_for(lambda: deliveries(sandbox, "PAYTWICE01"))) == 1  # one payment, one note


# --- retries -------------------------------------------------------------------------------


def test_retries_until_acknowledged(sandbox, merchant, receiver):
    receiver.reset(statuses=[500, 500])
    place_and_pay(sandbox, merchant, "RETRY00001", receiver.url)
    attempts = wait_for(
        lambda: (
            [d for d in deliveries(sandbox, "RETRY00001") if d["acknowledged"]]
            and deliveries(sandbox, "RETRY00001")
        )
    )
    assert [(d["attempt"], d["status"], d["acknowledged"]) for d in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 204, True),
    ]
    bodies = receiver.bodies()
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same event each time
    for index, body in enumerate(bodies):  # each attempt freshly and validly signed
        assert merchant.verify(received_headers(receiver, index), body)


def test_200_with_fail_body_counts_as_received(sandbox, merchant, receiver):
    receiver.reset(statuses=[200])
    place_and_pay(sandbox, merchant, "OK200FAIL1", receiver.url)
    (attempt,) = wait_for(lambda: deliveries(sandbox, "OK200FAIL1"))
    assert attempt["status"] == 200 and attempt["acknowledged"]
    time.sleep(0.1)  # 15 s x 0.001: a retry would have come by now
    assert len(deliveries(sandbox, "OK200FAIL1")) == 1


def test_slow_acknowledgement_counts_as_failure(sandbox_settings, receiver):
    # WeChat waits 5 s; this simulator waits 0.3 s so that the test stays fast.
    server = start_sandbox(sandbox_settings, SANDBOX_NOTIFY_TIMEOUT="0.3")
    try:
        receiver.reset(delay=0.6)
        place_and_pay(server, Merchant(server.url, sandbox_settings), "SLOWACK001", receiver.url)
        first, second = wait_for(lambda: len(deliveries(server)) >= 2 and deliveries(server))
        assert first["status"] is None and first["error"] == "ReadTimeout"
        assert second["attempt"] == 2
        receiver.reset()
        wait_for(lambda: any(d["acknowledged"] for d in deliveries(server)))
    finally:
        requests.post(server.url + "/sandbox/reset", timeout=5)
        server.stop()


def test_gives_up_after_the_whole_schedule(sandbox_settings):
    server = start_sandbox(sandbox_settings, SANDBOX_TIME_SCALE="0.000005")
    try:
        merchant = Merchant(server.url, sandbox_settings)
        # Nothing listens on port 9 on the test machine: every attempt is a connection error.
        place_and_pay(server, merchant, "NOBODYHOME", "http://127.0.0.1:9/notify")
        attempts = wait_for(
            lambda: len(deliveries(server)) >= 16 and deliveries(server), timeout=10
        )
        time.sleep(0.3)
        attempts = deliveries(server)
        assert [d["attempt"] for d in attempts] == list(range(1, 17))
        assert all(d["status"] is None and d["error"] for d in attempts)
    finally:
        server.stop()


def test_resend_on_demand(sandbox, merchant, receiver):
    first = place_and_pay(sandbox, merchant, "RESEND0001", receiver.url)
    wait_for(receiver.bodies)
    again = requests.post(sandbox.url + "/sandbox/notify/RESEND0001", timeout=5).json()
    assert again["event_id"] != first["event_id"]
    bodies = wait_for(lambda: len(receiver.bodies()) == 2 and receiver.bodies())
    assert {json.loads(b)["id"] for b in bodies} == {first["event_id"], again["event_id"]}
    merchant.place("RESEND0002", receiver.url)
    unpaid = requests.post(sandbox.url + "/sandbox/notify/RESEND0002", timeout=5)
    assert unpaid.status_code == 400


# --- notification faults ---------------------------------------------------------------------


def test_drop(sandbox, merchant, receiver, sandbox_settings):
    arm(sandbox, {"kind": "notify", "action": "drop"})
    place_and_pay(sandbox, merchant, "DROPPED001", receiver.url)
    (logged,) = wait_for(lambda: deliveries(sandbox, "DROPPED001"))
    assert logged["fault"] == "drop" and logged["error"] == "dropped"
    # The fault is used up: the next notification is delivered, and only that one arrived.
    place_and_pay(sandbox, merchant, "DELIVERED1", receiver.url)
    wait_for(receiver.bodies)
    assert [decrypt(sandbox_settings, b)["out_trade_no"] for b in receiver.bodies()] == [
        "DELIVERED1"
    ]


def test_duplicate(sandbox, merchant, receiver):
    arm(sandbox, {"kind": "notify", "action": "duplicate", "copies": 3})
    paid = place_and_pay(sandbox, merchant, "DUPLICATE1", receiver.url)
    bodies = wait_for(lambda: len(receiver.bodies()) == 3 and receiver.bodies())
    assert {json.loads(b)["id"] for b in bodies} == {paid["event_id"]}
    copies = {d["copy"] for d in deliveries(sandbox, "DUPLICATE1")}
    assert copies == {1, 2, 3}


def test_delay(sandbox, merchant, receiver):
    arm(sandbox, {"kind": "notify", "action": "delay", "seconds": 0.5})
    started = time.monotonic()
    place_and_pay(sandbox, merchant, "DELAYED001", receiver.url)
    time.sleep(0.2)
    assert receiver.bodies() == []
    wait_for(receiver.bodies)
    assert time.monotonic() - started >= 0.5


def test_signtest_probe_then_genuine(sandbox, merchant, receiver):
    arm(sandbox, {"kind": "notify", "action": "signtest"})
    place_and_pay(sandbox, merchant, "SIGNTEST01", receiver.url)
    bodies = wait_for(lambda: len(receiver.bodies()) == 2 and receiver.bodies())
    probe, genuine = received_headers(receiver, 0), received_headers(receiver, 1)
    assert probe["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    assert not merchant.verify(probe, bodies[0])
    assert merchant.verify(genuine, bodies[1])
    faults = [d["fault"] for d in deliveries(sandbox, "SIGNTEST01")]
    assert faults == ["signtest", None]


def test_tamper_probe_then_genuine(sandbox, merchant, receiver, sandbox_settings):
    arm(sandbox, {"kind": "notify", "action": "tamper"})
    place_and_pay(sandbox, merchant, "TAMPERED01", receiver.url)
    bodies = wait_for(lambda: len(receiver.bodies()) == 2 and receiver.bodies())
    assert not merchant.verify(received_headers(receiver, 0), bodies[0])
    assert decrypt(sandbox_settings, bodies[0])["out_trade_no"] == "TAMPERED01"  # still readable
    assert merchant.verify(received_headers(receiver, 1), bodies[1])


def test_tamper_with_drop_delivers_only_the_bad_copy(sandbox, merchant, receiver):
    arm(
        sandbox,
        {"kind": "notify", "action": "tamper", "out_trade_no": "ONLYBAD001"},
        {"kind": "notify", "action": "drop", "out_trade_no": "ONLYBAD001"},
    )
    place_and_pay(sandbox, merchant, "ONLYBAD001", receiver.url)
    wait_for(lambda: len(deliveries(sandbox, "ONLYBAD001")) == 2)
    (body,) = receiver.bodies()
    assert not merchant.verify(received_headers(receiver), body)


# --- API faults ------------------------------------------------------------------------------


def test_api_error_fault_answers_n_times(sandbox, merchant):
    arm(
        sandbox,
        {
            "kind": "api",
            "method": "POST",
            "path": "/v3/pay/transactions/jsapi",
            "status": 500,
            "code": "SYSTEM_ERROR",
            "times": 2,
        },
    )
    answers = [merchant.place("FAULTED001", "https://m.example.com/n") for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 500, 200]
    assert answers[0].json()["code"] == "SYSTEM_ERROR"
    assert requests.get(sandbox.url + "/sandbox/faults", timeout=5).json()["faults"] == []


def test_api_delay_fault_provokes_a_client_timeout(sandbox, merchant):
    arm(sandbox, {"kind": "api", "path": "/v3/pay/transactions/out-trade-no/", "delay": 0.6})
    with pytest.raises(requests.Timeout):
        merchant.request(
            "GET",
            f"/v3/pay/transactions/out-trade-no/SLOWORDER1?mchid={merchant.mchid}",
            timeout=0.2,
        )
    answer = merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/SLOWORDER1?mchid={merchant.mchid}"
    )
    assert answer.status_code == 404


def test_login_fault_uses_wechat_error_shape(sandbox, sandbox_settings):
    arm(
        sandbox,
        {
            "kind": "api",
            "path": "/sns/jscode2session",
            "status": 200,
            "code": "-1",
            "message": "system error",
        },
    )
    answer = requests.get(
        sandbox.url + "/sns/jscode2session",
        timeout=5,
        params={
            "appid": sandbox_settings["WECHAT_APPID"],
            "secret": sandbox_settings["WECHAT_SECRET"],
            "js_code": "x",
            "grant_type": "authorization_code",
        },
    ).json()
    assert answer["errcode"] == -1 and answer["errmsg"].startswith("system error, rid: ")


def test_v2_paths_get_xml_fault_answers(sandbox):
    arm(
        sandbox,
        {
            "kind": "api",
            "path": "/pay/orderquery",
            "status": 200,
            "code": "SYSTEMERROR",
            "message": "系统超时",
        },
    )
    answer = requests.post(sandbox.url + "/pay/orderquery", data=b"<xml></xml>", timeout=5)
    assert answer.status_code == 200
    fields = xmltodict.parse(answer.content)["xml"]  # sandbox/v2.py's signed business error
    assert (fields["return_code"], fields["result_code"], fields["err_code"]) == (
        "SUCCESS",
        "FAIL",
        "SYSTEMERROR",
    )


def test_fault_listing_clearing_and_validation(sandbox):
    armed = arm(sandbox, {"kind": "notify", "action": "drop", "times": 3})
    assert armed[0]["times"] == 3 and armed[0]["id"]
    listed = requests.get(sandbox.url + "/sandbox/faults", timeout=5).json()["faults"]
    assert [f["id"] for f in listed] == [armed[0]["id"]]
    requests.delete(sandbox.url + "/sandbox/faults", timeout=5)
    assert requests.get(sandbox.url + "/sandbox/faults", timeout=5).json()["faults"] == []
    for bad in (
        {"kind": "api", "path": "/v3/x"},
        {"kind": "notify", "action": "explode"},
        {"kind": "weather"},
        {"kind": "api", "path": "/v3", "status": 99},
    ):
        response = requests.post(sandbox.url + "/sandbox/faults", json=bad, timeout=5)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_FAULT"


def test_reset_forgets_orders_and_faults(sandbox, merchant):
    merchant.place("FORGETME01", "https://m.example.com/n")
    arm(sandbox, {"kind": "api", "path": "/v3/", "status": 503})
    requests.post(sandbox.url + "/sandbox/reset", timeout=5)
    assert requests.get(sandbox.url + "/sandbox/orders/FORGETME01", timeout=5).status_code == 404
    assert (
        merchant.request(
            "GET", f"/v3/pay/transactions/out-trade-no/FORGETME01?mchid={merchant.mchid}"
        ).status_code
        == 404
    )
