"""The refund record both API versions share, and its rules.

A refund is answered PROCESSING, as at WeChat, and then settles at once as SUCCESS, notifying
the merchant in the refund's API version (``state.notify_refund``). Arm a refund fault
(``{"kind": "refund", "status": "PROCESSING"|"ABNORMAL"|"CLOSED"}``) to make the next refund
end differently; a PROCESSING refund waits for ``POST /sandbox/refunds/<out_refund_no>``.
The endpoints are ``sandbox.pay.v3.refunds`` and ``sandbox.pay.v2.refunds``.
"""

import re
import time

from ..wire import digits, rfc3339

OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
MAX_REFUNDS_PER_ORDER = 50
FINAL_STATUSES = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}


def order_refunds(state, order):
    """Every refund of an order (caller holds ``state.lock``), in either API version."""
    return [
        r
        for r in state.refunds.values()
        if r["out_trade_no"] == order["out_trade_no"] and r["mchid"] == order["mchid"]
    ]


def refunded(refunds):
    """Fen given back or on its way: every refund but the CLOSED ones."""
    return sum(r["amount"]["refund"] for r in refunds if r["status"] != "CLOSED")


def add_refund(
    state, order, out_refund_no, amount, *, api_version, reason, notify_url, funds_account
):
    """Store a new PROCESSING refund of a paid order that the caller (holding ``state.lock``)
    has checked. Returns it and the status it is to end in: SUCCESS unless a refund fault
    says otherwise; hand both to ``finish_refund`` once the answer is built."""
    refund = {
        "api_version": api_version,
        "mchid": order["mchid"],
        "refund_id": "50" + digits(27),
        "out_refund_no": out_refund_no,
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(time.time()),
        "success_time": None,
        "status": "PROCESSING",
        "funds_account": funds_account,
        "reason": reason or "",
        "notify_url": notify_url,
        "amount": {"total": order["amount"]["total"], "refund": amount},
    }
    state.add_refund(refund)
    order["trade_state"] = "REFUND"
    fault = state.take_refund_fault(order["out_trade_no"])
    return refund, (fault["status"] if fault else "SUCCESS")


def finish_refund(state, refund, final_status):
    """Settle a new refund at once, unless a refund fault keeps it PROCESSING."""
    if final_status != "PROCESSING":
        settle_refund(state, refund, final_status)


def settle_refund(state, refund, status):
    """Move a PROCESSING refund to SUCCESS, ABNORMAL or CLOSED and notify the merchant in the
    refund's API version (``state.refund_notifiers``, wired in ``create_app``)."""
    with state.lock:
        if refund["status"] != "PROCESSING":
            raise ValueError(f"refund {refund['out_refund_no']} is already {refund['status']}")
        refund["status"] = status
        if status == "SUCCESS":
            refund["success_time"] = rfc3339(time.time())
    if refund["notify_url"]:
        state.notify_refund(refund)
