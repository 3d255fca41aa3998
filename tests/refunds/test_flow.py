"""Refunds (API v3) end to end over real HTTP against the simulator, on SQLite and PostgreSQL:
partial refunds, refusals, the lock under concurrency, retries that keep the out_refund_no,
and every refund converging without a notification."""

import requests

from server.domain import refunds
from server.errors import DomainError
from tests.support import wait_for
from tests.support.concurrency import at_once
from tests.support.orders import COFFEE, paid_order
from tests.support.refunds import (
    cli_result,
    order_status,
    place_refund,
    refund_row,
    refund_statuses,
    wait_refund,
    wechat_refunds,
)
from tests.support.simulator import Merchant

REFUNDS_PATH = "/v3/refund/domestic/refunds"


def test_partial_refunds_until_the_order_is_refunded(stack):
    auth, order = paid_order(stack)
    out = stack.cli("refund", str(order["id"]), "--amount", "500", "--reason", "口味不对")
    assert " 500 fen " in out
    first = stack.query("SELECT out_refund_no FROM refunds")[0][0]
    wait_refund(stack, first, "SUCCESS")  # REFUND.SUCCESS notification
    shown = stack.order(auth, order["id"]).json()["order"]
    assert (shown["status"], shown["refunded"]) == ("PAID", 500)

    stack.cli("refund", str(order["id"]), "--amount", str(COFFEE - 500), "--reason", "rest")
    wait_for(lambda: order_status(stack, order["id"]) == "REFUNDED")
    shown = stack.order(auth, order["id"]).json()["order"]
    assert shown["refunded"] == COFFEE
    assert [(r["amount"], r["status"]) for r in shown["refunds"]] == [
        (500, "SUCCESS"),
        (COFFEE - 500, "SUCCESS"),
    ]
    assert shown["refunds"][0]["reason"] == "口味不对" and shown["refunds"][0]["refund_id"]
    assert shown["refunds"][0]["channel"] == "ORIGINAL"
    (listed,) = requests.get(f"{stack.backend}/api/orders", headers=auth).json()["orders"]
    assert (listed["status"], listed["refunded"], len(listed["refunds"])) == ("REFUNDED", COFFEE, 2)
    # WeChat's view agrees, and every message about the refunds is on the order's timeline.
    assert sorted(r["amount"]["refund"] for r in wechat_refunds(stack, order["out_trade_no"])) == [
        500,
        COFFEE - 500,
    ]
    events = stack.query(
        "SELECT source, event_type FROM payment_events WHERE refund_id IS NOT NULL ORDER BY id"
    )
    assert ("notify", "REFUND.SUCCESS") in events and ("apply", "APPLY.PROCESSING") in events
    code, output = cli_result(stack, "refund", order["id"], "--amount", 1, "--reason", "x")
    assert code != 0 and "ORDER_NOT_REFUNDABLE" in output


def test_over_refund_and_bad_refunds_are_refused_and_write_nothing(stack):
    _, order = paid_order(stack)
    place_refund(stack, order["id"], 1000)
    for amount, error in (
        (COFFEE - 999, "EXCEEDS_REFUNDABLE"),
        (0, "INVALID_AMOUNT"),
        (-5, "INVALID_AMOUNT"),
    ):
        code, output = cli_result(stack, "refund", order["id"], "--amount", amount, "--reason", "x")
        assert code != 0 and error in output
    assert len(refund_statuses(stack, order["id"])) == 1
    assert len(wechat_refunds(stack, order["out_trade_no"])) == 1

    auth = stack.login()
    unpaid = stack.create_order(auth).json()["order"]
    code, output = cli_result(stack, "refund", unpaid["id"], "--amount", 1, "--reason", "x")
    assert code != 0 and "ORDER_NOT_REFUNDABLE" in output
    code, output = cli_result(stack, "refund", 99999, "--amount", 1, "--reason", "x")
    assert code != 0 and "ORDER_NOT_FOUND" in output


def test_a_definite_refusal_is_kept_and_frees_the_amount(stack):
    _, order = paid_order(stack)
    stack.control(
        "faults",
        kind="api",
        path=REFUNDS_PATH,
        method="POST",
        status=403,
        code="USER_ACCOUNT_ABNORMAL",
        message="用户账户异常",
    )
    refused = place_refund(stack, order["id"], COFFEE)
    assert refused["status"] == "FAILED" and refused["error_code"] == "USER_ACCOUNT_ABNORMAL"
    assert "give the money back another way" in refused["error_message"]
    assert stack.query(
        "SELECT event_type FROM payment_events WHERE refund_id = :id", id=refused["id"]
    ) == [("APPLY.FAILED.USER_ACCOUNT_ABNORMAL",)]
    again = place_refund(stack, order["id"], COFFEE)  # the amount is free again
    wait_refund(stack, again["out_refund_no"], "SUCCESS")
    assert order_status(stack, order["id"]) == "REFUNDED"


def test_wechat_refusing_more_than_it_has_left_fails_the_refund(stack):
    """Refunded on the merchant platform behind our back: WeChat has less left than we think."""
    _, order = paid_order(stack)
    merchant = Merchant(stack.sandbox, stack.settings)
    assert (
        merchant.request(
            "POST",
            REFUNDS_PATH,
            {
                "out_trade_no": order["out_trade_no"],
                "out_refund_no": "MERCHANT-PLATFORM-2",
                "amount": {"refund": 1000, "total": COFFEE, "currency": "CNY"},
            },
        ).status_code
        == 200
    )
    refused = place_refund(stack, order["id"], COFFEE)
    assert (refused["status"], refused["error_code"]) == ("FAILED", "INVALID_REQUEST")
    assert "申请退款金额超过订单可退金额" in refused["error_message"]
    stack.control(
        "faults",
        kind="api",
        path=REFUNDS_PATH,
        method="POST",
        status=403,
        code="NOT_ENOUGH",
        message="基本账户余额不足，请充值后重新发起",
    )
    low_balance = place_refund(stack, order["id"], 800)
    assert low_balance["status"] == "FAILED" and "top it up" in low_balance["error_message"]
    wait_refund(stack, place_refund(stack, order["id"], 800)["out_refund_no"], "SUCCESS")
    assert order_status(stack, order["id"]) == "PAID"  # WeChat has refunded it all, we 800


def test_at_most_50_refunds_per_order(stack):
    _, order = paid_order(stack)
    for _ in range(refunds.MAX_REFUNDS_PER_ORDER):
        place_refund(stack, order["id"], 1)
    code, output = cli_result(stack, "refund", order["id"], "--amount", 1, "--reason", "x")
    assert code != 0 and "TOO_MANY_REFUNDS" in output
    assert len(wechat_refunds(stack, order["out_trade_no"])) == 50


def test_20_concurrent_refunds_never_exceed_what_was_paid(stack):
    _, order = paid_order(stack)

    def attempt():
        try:
            return place_refund(stack, order["id"], 500)["status"]
        except DomainError as exc:
            return exc.code

    outcomes = at_once([attempt] * 20)
    assert len(outcomes) == 20
    assert outcomes.count("EXCEEDS_REFUNDABLE") == 20 - COFFEE // 500
    held = stack.query("SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE status <> 'FAILED'")
    assert held == [(COFFEE // 500 * 500,)]
    at_wechat = wechat_refunds(stack, order["out_trade_no"])
    assert sum(r["amount"]["refund"] for r in at_wechat) == COFFEE // 500 * 500


def test_a_timeout_is_retried_with_the_same_out_refund_no(stack):
    """WeChat took the refund but the answer never came: the retry gets the same refund."""
    _, order = paid_order(stack)
    # Longer than the backend's 2 s timeout; the simulator still makes the refund afterwards.
    # Its notification is lost too, so only our retry can learn what happened.
    stack.control("faults", kind="api", path=REFUNDS_PATH, method="POST", delay=3)
    stack.control("faults", kind="notify", action="drop")
    pending = place_refund(stack, order["id"], 700)
    assert pending["status"] == "PENDING" and pending["error_code"] == "WECHATPAY_UNAVAILABLE"
    wait_for(lambda: wechat_refunds(stack, order["out_trade_no"]))
    # A 500 SYSTEM_ERROR on the next try is also "try again", not a refusal.
    stack.control(
        "faults", kind="api", path=REFUNDS_PATH, method="POST", status=500, code="SYSTEM_ERROR"
    )
    code, output = cli_result(stack, "refunds", "sync", "--older-than", "0")
    assert code == 75 and "'pending': 1" in output  # EX_TEMPFAIL: not done, the next run is
    assert "'success': 1" in stack.cli("refunds", "sync", "--older-than", "0")
    (at_wechat,) = wechat_refunds(stack, order["out_trade_no"])
    assert at_wechat["out_refund_no"] == pending["out_refund_no"]
    assert refund_row(stack, pending["out_refund_no"])["refund_id"] == at_wechat["refund_id"]
    assert stack.query("SELECT attempts FROM refunds") == [(3,)]


def test_a_refusal_after_a_lost_answer_is_checked_before_the_amount_is_freed(stack):
    """The first call timed out (WeChat made the refund); the retry is refused (here a
    SIGN_ERROR). Only WeChat not knowing the out_refund_no would prove there is no refund."""
    _, order = paid_order(stack)
    stack.control("faults", kind="api", path=REFUNDS_PATH, method="POST", delay=3)
    stack.control("faults", kind="notify", action="drop")
    pending = place_refund(stack, order["id"], COFFEE)
    wait_for(lambda: wechat_refunds(stack, order["out_trade_no"]))
    stack.control(
        "faults", kind="api", path=REFUNDS_PATH, method="POST", status=401, code="SIGN_ERROR"
    )
    assert "'success': 1" in stack.cli("refunds", "sync", "--older-than", "0")
    assert refund_row(stack, pending["out_refund_no"])["status"] == "SUCCESS"
    assert order_status(stack, order["id"]) == "REFUNDED"

    # Never made at WeChat (the first call was refused with a 5xx, then a definite 4xx):
    _, other = paid_order(stack)
    stack.control(
        "faults",
        kind="api",
        path=REFUNDS_PATH,
        method="POST",
        status=503,
        code="SERVICE_UNAVAILABLE",
    )
    unknown = place_refund(stack, other["id"], 500)
    assert unknown["status"] == "PENDING"
    stack.control(
        "faults",
        kind="api",
        path=REFUNDS_PATH,
        method="POST",
        status=403,
        code="TRADE_OVERDUE",
        message="订单已经超过退款期限",
    )
    stack.cli("refunds", "sync", "--older-than", "0")
    failed = refund_row(stack, unknown["out_refund_no"])
    assert (failed["status"], failed["error_code"]) == ("FAILED", "TRADE_OVERDUE")
    assert wechat_refunds(stack, other["out_trade_no"]) == []


def test_processing_refunds_are_settled_by_the_periodic_job(stack):
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="PROCESSING")
    processing = place_refund(stack, order["id"], COFFEE)
    assert processing["status"] == "PROCESSING"
    assert "'unchanged': 1" in stack.cli("reconcile", "--older-than", "0")  # still PROCESSING
    stack.control("faults", kind="notify", action="drop")
    stack.control(f"refunds/{processing['out_refund_no']}", status="SUCCESS")
    assert "'success': 1" in stack.cli("reconcile", "--older-than", "0")
    assert refund_statuses(stack, order["id"]) == ["SUCCESS"]
    assert order_status(stack, order["id"]) == "REFUNDED"
    assert ("query", "QUERY.SUCCESS") in stack.query(
        "SELECT source, event_type FROM payment_events WHERE refund_id IS NOT NULL"
    )


def test_closed_refund_frees_its_amount(stack):
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="CLOSED")
    closed = place_refund(stack, order["id"], COFFEE)
    wait_refund(stack, closed["out_refund_no"], "CLOSED")  # REFUND.CLOSED notification
    assert order_status(stack, order["id"]) == "PAID"
    assert stack.query(
        "SELECT event_type FROM payment_events WHERE source = 'notify' AND refund_id IS NOT NULL"
    ) == [("REFUND.CLOSED",)]
    wait_refund(stack, place_refund(stack, order["id"], COFFEE)["out_refund_no"], "SUCCESS")


def test_abnormal_refunds_are_surfaced_and_sent_again_to_a_bank_card(stack):
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="ABNORMAL")
    abnormal = place_refund(stack, order["id"], COFFEE)
    wait_refund(stack, abnormal["out_refund_no"], "ABNORMAL")  # REFUND.ABNORMAL notification
    listed = stack.cli("refunds", "abnormal")
    assert abnormal["out_refund_no"] in listed and "1 ABNORMAL refunds" in listed
    assert "apply-abnormal" in listed and "MERCHANT_BANK_CARD" in listed
    assert "ABNORMAL" in stack.cli("refunds", "list", "--status", "ABNORMAL")
    code, output = cli_result(stack, "refund", order["id"], "--amount", 1, "--reason", "x")
    assert code != 0 and "EXCEEDS_REFUNDABLE" in output  # the money is still out there

    out = stack.cli(
        "refunds",
        "apply-abnormal",
        abnormal["out_refund_no"],
        "--type",
        "MERCHANT_BANK_CARD",
        "--by",
        "alice",
    )
    assert "PROCESSING" in out or "SUCCESS" in out
    wait_refund(stack, abnormal["out_refund_no"], "SUCCESS")
    assert order_status(stack, order["id"]) == "REFUNDED"
    assert "0 ABNORMAL refunds" in stack.cli("refunds", "abnormal")
    code, output = cli_result(
        stack,
        "refunds",
        "apply-abnormal",
        abnormal["out_refund_no"],
        "--type",
        "MERCHANT_BANK_CARD",
    )
    assert code != 0 and "REFUND_NOT_ABNORMAL" in output


def test_a_refund_that_fails_again_after_being_sent_again_is_abnormal_again(stack):
    """The same states twice (ABNORMAL, sent again, ABNORMAL) are two messages, not one
    applied twice: the second failure is seen even when only a query reports it."""
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="ABNORMAL")
    number = place_refund(stack, order["id"], COFFEE)["out_refund_no"]
    wait_refund(stack, number, "ABNORMAL")
    stack.control("faults", kind="refund", status="ABNORMAL")  # the bank card fails too...
    stack.control("faults", kind="notify", action="drop")  # ...and its notification is lost
    stack.cli("refunds", "apply-abnormal", number, "--type", "MERCHANT_BANK_CARD")
    stack.cli("refunds", "sync", "--older-than", "0")
    wait_refund(stack, number, "ABNORMAL")
    assert number in stack.cli("refunds", "abnormal")
    # Sent again to the merchant's card, which works: SUCCESS, with its time.
    stack.cli("refunds", "apply-abnormal", number, "--type", "MERCHANT_BANK_CARD")
    wait_refund(stack, number, "SUCCESS")
    assert stack.query("SELECT succeeded_at IS NOT NULL FROM refunds") == [(True,)]
    assert order_status(stack, order["id"]) == "REFUNDED"


def test_a_user_bank_card_is_sent_encrypted(stack):
    _, order = paid_order(stack)
    stack.control("faults", kind="refund", status="ABNORMAL")
    abnormal = place_refund(stack, order["id"], 300)
    wait_refund(stack, abnormal["out_refund_no"], "ABNORMAL")
    stack.cli(
        "refunds",
        "apply-abnormal",
        abnormal["out_refund_no"],
        "--type",
        "USER_BANK_CARD",
        "--bank-type",
        "ICBC_DEBIT",
        "--bank-account",
        "6222000000000000",
        "--real-name",
        "张三",
    )
    wait_refund(stack, abnormal["out_refund_no"], "SUCCESS")
    payloads = " ".join(p for (p,) in stack.query("SELECT payload FROM payment_events"))
    assert "6222000000000000" not in payloads and "张三" not in payloads


def test_a_refunded_order_is_still_a_paid_one_for_payments(stack, dev_keys):
    """REFUND trade state: WeChat took the money (and gave some back). A payment whose
    notification was lost is still found PAID by reconcile, and a late payment notification
    for a refunded order changes nothing."""
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop")
    stack.cashier(created["pay_params"])
    merchant = Merchant(stack.sandbox, stack.settings)
    out_trade_no = created["order"]["out_trade_no"]
    answer = merchant.request(
        "POST",
        REFUNDS_PATH,
        {
            "out_trade_no": out_trade_no,
            "out_refund_no": "MERCHANT-PLATFORM-1",
            "amount": {"refund": 100, "total": COFFEE, "currency": "CNY"},
        },
    )
    assert answer.status_code == 200
    stack.cli("reconcile", "--older-than", "0")
    assert order_status(stack, created["order"]["id"]) == "PAID"
    assert stack.query("SELECT event_type FROM payment_events") == [("QUERY.REFUND",)]

    _, order = paid_order(stack, auth)
    wait_refund(stack, place_refund(stack, order["id"], COFFEE)["out_refund_no"], "SUCCESS")
    wait_for(lambda: order_status(stack, order["id"]) == "REFUNDED")
    resent = requests.post(f"{stack.sandbox}/sandbox/notify/{order['out_trade_no']}")
    assert resent.status_code == 200
    wait_for(
        lambda: (
            stack.query(
                "SELECT COUNT(*) FROM payment_events WHERE order_id = :id "
                "AND event_type = 'TRANSACTION.SUCCESS'",
                id=order["id"],
            )
            == [(2,)]
        )
    )
    assert order_status(stack, order["id"]) == "REFUNDED"
