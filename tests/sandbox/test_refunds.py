"""The simulator's v3 refunds and trade bills."""

import gzip
import hashlib
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import requests

from server.wechatpay.crypto import aes_gcm_decrypt
from tests.support import wait_for
from tests.support.simulator import arm, cashier, deliveries

REFUNDS = "/v3/refund/domestic/refunds"


def paid_order(sandbox, merchant, out_trade_no, total=1000, notify_url="http://127.0.0.1:9/n"):
    prepay_id = merchant.place(out_trade_no, notify_url, total=total).json()["prepay_id"]
    return cashier(sandbox, prepay_id).json()


def refund(merchant, out_trade_no, out_refund_no, amount, total=1000, **extra):
    return merchant.request(
        "POST",
        REFUNDS,
        {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": {"refund": amount, "total": total, "currency": "CNY"},
            **extra,
        },
    )


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


def test_refund_is_accepted_settles_and_notifies(sandbox, merchant, receiver, sandbox_settings):
    paid = paid_order(sandbox, merchant, "REFUNDME01")
    answer = refund(
        merchant, "REFUNDME01", "RF-0001", 300, reason="口味不对", notify_url=receiver.url
    )
    assert answer.status_code == 200 and merchant.verify(answer.headers, answer.content)
    created = answer.json()
    assert created["status"] == "PROCESSING" and created["refund_id"].startswith("50")
    assert created["transaction_id"] == paid["transaction_id"]
    assert created["amount"]["refund"] == 300 and created["amount"]["total"] == 1000

    (body,) = wait_for(receiver.bodies)
    with receiver.lock:
        headers = receiver.received[0]["headers"]
    assert merchant.verify(headers, body)
    event = json.loads(body)
    assert event["event_type"] == "REFUND.SUCCESS"
    assert event["resource"]["associated_data"] == "refund"
    resource = decrypt(sandbox_settings, body)
    assert resource["refund_status"] == "SUCCESS" and resource["out_refund_no"] == "RF-0001"
    assert resource["amount"]["refund"] == 300 and resource["success_time"]

    queried = merchant.request("GET", f"{REFUNDS}/RF-0001")
    assert queried.status_code == 200 and queried.json()["status"] == "SUCCESS"
    order = merchant.request(
        "GET", f"/v3/pay/transactions/out-trade-no/REFUNDME01?mchid={merchant.mchid}"
    ).json()
    assert order["trade_state"] == "REFUND"


def test_refund_retry_and_refusals(sandbox, merchant):
    merchant.place("UNPAIDORD1", "http://127.0.0.1:9/n")
    paid_order(sandbox, merchant, "REFUNDME02")
    first = refund(merchant, "REFUNDME02", "RF-0002", 600).json()
    assert (
        refund(merchant, "REFUNDME02", "RF-0002", 600).json()["refund_id"] == first["refund_id"]
    )  # retrying with the same out_refund_no is safe

    def code(response):
        return response.status_code, response.json()["code"]

    assert code(refund(merchant, "REFUNDME02", "RF-0002", 500)) == (400, "INVALID_REQUEST")
    assert code(refund(merchant, "REFUNDME02", "RF-0003", 401)) == (400, "INVALID_REQUEST")
    assert code(refund(merchant, "REFUNDME02", "RF-0004", 1, total=999)) == (400, "PARAM_ERROR")
    assert code(refund(merchant, "UNPAIDORD1", "RF-0005", 1)) == (400, "INVALID_REQUEST")
    assert code(refund(merchant, "NOSUCHORDR", "RF-0006", 1)) == (404, "RESOURCE_NOT_EXISTS")
    assert code(refund(merchant, "REFUNDME02", "RF#BAD", 1)) == (400, "PARAM_ERROR")
    assert code(merchant.request("GET", f"{REFUNDS}/RF-NONE")) == (404, "RESOURCE_NOT_EXISTS")
    assert refund(merchant, "REFUNDME02", "RF-0007", 400).status_code == 200  # exactly the rest


def test_refund_fault_leaves_it_processing_until_settled(
    sandbox, merchant, receiver, sandbox_settings
):
    paid_order(sandbox, merchant, "REFUNDME03")
    arm(sandbox, {"kind": "refund", "status": "PROCESSING"})
    refund(merchant, "REFUNDME03", "RF-0010", 1000, notify_url=receiver.url)
    assert merchant.request("GET", f"{REFUNDS}/RF-0010").json()["status"] == "PROCESSING"
    settled = requests.post(
        sandbox.url + "/sandbox/refunds/RF-0010", json={"status": "ABNORMAL"}, timeout=5
    )
    assert settled.status_code == 200 and settled.json()["refund"]["status"] == "ABNORMAL"
    (body,) = wait_for(receiver.bodies)
    assert json.loads(body)["event_type"] == "REFUND.ABNORMAL"
    assert decrypt(sandbox_settings, body)["refund_status"] == "ABNORMAL"
    again = requests.post(
        sandbox.url + "/sandbox/refunds/RF-0010", json={"status": "SUCCESS"}, timeout=5
    )
    assert again.status_code == 400


def download(merchant, download_url):
    parts = urlsplit(download_url)
    return merchant.request("GET", f"{parts.path}?{parts.query}")


def test_trade_bill_lists_payments_and_refunds(sandbox, merchant):
    first = paid_order(sandbox, merchant, "BILLORDER1", total=1234)
    paid_order(sandbox, merchant, "BILLORDER2", total=500)
    refund(merchant, "BILLORDER2", "RF-BILL-1", 200, total=500)
    today = datetime.now(timezone(timedelta(hours=8))).date().isoformat()

    answer = merchant.request(
        "GET", f"/v3/bill/tradebill?bill_date={today}&bill_type=ALL&tar_type=GZIP"
    )
    assert answer.status_code == 200 and merchant.verify(answer.headers, answer.content)
    bill = answer.json()
    assert bill["hash_type"] == "SHA1"
    assert bill["download_url"].startswith(sandbox.url + "/v3/billdownload/file?token=")

    file = download(merchant, bill["download_url"])
    assert file.status_code == 200
    assert "Wechatpay-Signature" not in file.headers  # the file is not signed
    plain_bill = gzip.decompress(file.content)
    # The SHA1 covers the bill itself, before gzip (WeChat: 原始账单(gzip需要解压缩)的摘要值).
    assert hashlib.sha1(plain_bill).hexdigest() == bill["hash_value"]
    # Laid out as WeChat's v3 bills are: BOM, CRLF, a line end after the summary too.
    assert plain_bill.startswith(b"\xef\xbb\xbf") and plain_bill.endswith(b"\r\n")
    lines = plain_bill.decode("utf-8-sig").split("\r\n")[:-1]
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    rows = [line.split(",") for line in lines[1:-2]]
    assert all(cell.startswith("`") for row in rows for cell in row)
    assert len(rows) == 3 and len(rows[0]) == len(lines[0].split(","))
    payment = next(row for row in rows if row[6] == "`BILLORDER1")
    assert payment[5] == "`" + first["transaction_id"] and payment[12] == "`12.34"
    refund_row = next(row for row in rows if row[9] == "`REFUND")
    assert refund_row[15] == "`RF-BILL-1" and refund_row[16] == "`2.00"
    assert lines[-2].startswith("总交易单数")
    assert lines[-1].split(",")[:3] == ["`3", "`17.34", "`2.00"]

    plain = merchant.request("GET", f"/v3/bill/tradebill?bill_date={today}&bill_type=REFUND")
    refunds_only = download(merchant, plain.json()["download_url"]).content.decode()
    assert "BILLORDER1" not in refunds_only and "RF-BILL-1" in refunds_only


def test_trade_bill_refusals(sandbox, merchant):
    empty = merchant.request("GET", "/v3/bill/tradebill?bill_date=2020-01-01")
    assert empty.status_code == 400 and empty.json()["code"] == "NO_STATEMENT_EXIST"
    bad = merchant.request("GET", "/v3/bill/tradebill?bill_date=20200101")
    assert bad.status_code == 400 and bad.json()["code"] == "PARAM_ERROR"
    unknown = merchant.request("GET", "/v3/billdownload/file?token=nope")
    assert unknown.status_code == 400
    unsigned = requests.get(sandbox.url + "/v3/billdownload/file?token=nope", timeout=5)
    assert unsigned.status_code == 401


def test_a_refunded_order_cannot_be_paid_again_or_closed(sandbox, merchant):
    """REFUND means paid (then refunded): the cashier, a re-placement and close all refuse."""
    paid = paid_order(sandbox, merchant, "REFUNDED0001")
    assert refund(merchant, "REFUNDED0001", "R-REFUNDED0001", 10).status_code == 200
    again = requests.post(
        sandbox.url + "/sandbox/pay", json={"out_trade_no": "REFUNDED0001", "action": "pay"}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (400, "ORDERPAID")
    close = merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/REFUNDED0001/close", {"mchid": merchant.mchid}
    )
    assert (close.status_code, close.json()["code"]) == (400, "ORDERPAID")
    replaced = merchant.place("REFUNDED0001", "http://127.0.0.1:9/n", total=1000)
    assert (replaced.status_code, replaced.json()["code"]) == (400, "ORDERPAID")
    query = merchant.request(
        "GET", "/v3/pay/transactions/out-trade-no/REFUNDED0001?mchid=" + merchant.mchid
    ).json()
    assert (query["trade_state"], query["transaction_id"]) == ("REFUND", paid["transaction_id"])


def test_scene_info_must_be_an_object(merchant):
    response = merchant.place("SCENEINFO001", "http://127.0.0.1:9/n", scene_info="x")
    assert (response.status_code, response.json()["code"]) == (400, "PARAM_ERROR")


def test_at_most_50_refunds_per_order_and_not_enough_beyond_the_rest(sandbox, merchant):
    paid_order(sandbox, merchant, "REFUND50CAP", total=100)
    for n in range(50):
        assert refund(merchant, "REFUND50CAP", f"RF-CAP-{n}", 1, total=100).status_code == 200
    over = refund(merchant, "REFUND50CAP", "RF-CAP-50", 1, total=100)
    assert (over.status_code, over.json()["code"]) == (403, "RULE_LIMIT")
    paid_order(sandbox, merchant, "REFUNDREST1", total=100)
    assert refund(merchant, "REFUNDREST1", "RF-REST-1", 60, total=100).status_code == 200
    rest = refund(merchant, "REFUNDREST1", "RF-REST-2", 41, total=100)
    assert (rest.status_code, rest.json()["code"]) == (400, "INVALID_REQUEST")


def test_an_abnormal_refund_is_sent_again_to_a_bank_card(
    sandbox, merchant, receiver, sandbox_settings
):
    paid_order(sandbox, merchant, "REFUNDABN01")
    arm(sandbox, {"kind": "refund", "status": "ABNORMAL"})
    created = refund(merchant, "REFUNDABN01", "RF-ABN-1", 500, notify_url=receiver.url).json()
    wait_for(receiver.bodies)
    path = f"{REFUNDS}/{created['refund_id']}/apply-abnormal-refund"
    incomplete = merchant.request(
        "POST", path, {"out_refund_no": "RF-ABN-1", "type": "USER_BANK_CARD"}
    )
    assert (incomplete.status_code, incomplete.json()["code"]) == (400, "PARAM_ERROR")
    answer = merchant.request(
        "POST", path, {"out_refund_no": "RF-ABN-1", "type": "MERCHANT_BANK_CARD"}
    )
    assert answer.status_code == 200 and merchant.verify(answer.headers, answer.content)
    assert answer.json()["status"] == "PROCESSING"
    bodies = wait_for(lambda: receiver.bodies()[1:])
    assert decrypt(sandbox_settings, bodies[0])["refund_status"] == "SUCCESS"
    again = merchant.request(
        "POST", path, {"out_refund_no": "RF-ABN-1", "type": "MERCHANT_BANK_CARD"}
    )
    assert (again.status_code, again.json()["code"]) == (400, "INVALID_REQUEST")


def test_refund_notifications_are_retried_until_acknowledged(
    sandbox, merchant, receiver, sandbox_settings
):
    """The payment schedule (time-scaled): two failures, then acknowledged on the third."""
    paid_order(sandbox, merchant, "REFUNDRETRY1")
    receiver.reset(statuses=[500, 500])
    refund(merchant, "REFUNDRETRY1", "RF-RETRY-1", 100, notify_url=receiver.url)

    def to_receiver():  # not the payment notification, sent to an unreachable notify_url
        return [d for d in deliveries(sandbox, "REFUNDRETRY1") if d["url"] == receiver.url]

    attempts = wait_for(lambda: any(d["acknowledged"] for d in to_receiver()) and to_receiver())
    assert [(d["attempt"], d["status"], d["acknowledged"]) for d in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 204, True),
    ]
    bodies = receiver.bodies()
    assert len(set(bodies)) == 1  # the same notification each time, freshly signed
    assert decrypt(sandbox_settings, bodies[0])["out_refund_no"] == "RF-RETRY-1"
