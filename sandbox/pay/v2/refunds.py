"""API v2 refunds (docs/protocol.md B4 ``/secapi/pay/refund``, ``/pay/refundquery``; B5 refund
notifications).

A v2 refund is the same record as a v3 one (``sandbox.pay.refunds``), so the rules are shared: it
is answered as accepted, then settles at once as SUCCESS unless a refund fault ends it ABNORMAL
or CLOSED or keeps it PROCESSING (``POST /sandbox/refunds/<out_refund_no>`` settles it). v2
words the states its own way: ABNORMAL is ``CHANGE``, CLOSED is ``REFUNDCLOSE``.

Checks, with the answers WeChat gives (community-reported where the docs are silent):
``refund_fee`` above ``total_fee`` is return_code FAIL ``invalid refund_fee``; a ``total_fee``
other than the order's, or the same out_refund_no with another amount, REFUND_FEE_MISMATCH;
more than what remains, INVALID_REQUEST ``refund_fee大于可退金额`` (``ERROR 订单已全额退款``
when nothing remains); a 51st refund, ERROR; an unknown order, ORDERNOTEXIST. NOTENOUGH (the
merchant's refundable balance is short) comes only from an API fault with that code.

Over TLS, ``/secapi/pay/refund`` requires the merchant's API certificate (``core``).
"""

import re
from datetime import datetime

from server.wechatpay.crypto import aes_ecb_encrypt, nonce, v2_refund_key

from ...state import PAID_STATES
from ...wire import BEIJING
from .. import refunds
from ..checks import is_notify_url
from .core import (
    BusinessError,
    ReturnFail,
    acknowledged,
    api_key,
    blueprint,
    endpoint,
    merchant,
    to_xml,
)

# The v3 status of a refund record -> v2's refund_status.
V2_STATUS = {
    "PROCESSING": "PROCESSING",
    "SUCCESS": "SUCCESS",
    "ABNORMAL": "CHANGE",
    "CLOSED": "REFUNDCLOSE",
}
REFUND_ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")
PAGE_SIZE = 10  # refundquery lists 10 refunds; ``offset`` pages through more
FEE = re.compile(r"^[1-9][0-9]{0,11}$")


bp = blueprint("v2_refunds", __name__)


@bp.route("/secapi/pay/refund", methods=["GET", "POST"])
def refund():
    return endpoint(_refund)


@bp.route("/pay/refundquery", methods=["GET", "POST"])
def refundquery():
    return endpoint(_refundquery)


def _refund(fields, state):
    out_refund_no = fields.get("out_refund_no", "")
    if not (fields.get("transaction_id") or fields.get("out_trade_no")):
        raise BusinessError("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    for name in ("out_refund_no", "total_fee", "refund_fee"):
        if not fields.get(name):
            raise BusinessError("LACK_PARAMS", f"缺少参数{name}")
    if not refunds.OUT_REFUND_NO.match(out_refund_no):
        raise BusinessError("PARAM_ERROR", "out_refund_no参数格式错误")
    if not FEE.match(fields["total_fee"]) or not FEE.match(fields["refund_fee"]):
        raise BusinessError("PARAM_ERROR", "total_fee或refund_fee参数格式错误")
    total_fee, refund_fee = int(fields["total_fee"]), int(fields["refund_fee"])
    if refund_fee > total_fee:
        raise ReturnFail("invalid refund_fee")
    if fields.get("refund_fee_type", "CNY") != "CNY":
        raise BusinessError("PARAM_ERROR", "refund_fee_type参数错误")
    if len(fields.get("refund_desc", "")) > 80:
        raise BusinessError("PARAM_ERROR", "refund_desc参数长度有误")
    account = fields.get("refund_account") or REFUND_ACCOUNTS[0]
    if account not in REFUND_ACCOUNTS:
        raise BusinessError("PARAM_ERROR", "refund_account参数错误")
    notify_url = fields.get("notify_url") or None
    if notify_url and not is_notify_url(notify_url):
        raise BusinessError("PARAM_ERROR", "notify_url参数格式错误")

    with state.lock:
        order = state.order_by_reference(fields, merchant(fields))
        if order is None or order["api_version"] != "v2":
            raise BusinessError("ORDERNOTEXIST", "此交易订单号不存在")
        existing = state.refund(order["mchid"], out_refund_no)
        if existing is not None:  # a retry: the same refund, never a second one
            if existing["out_trade_no"] != order["out_trade_no"]:
                raise BusinessError("INVALID_REQUEST", "退款单号已用于其他订单")
            if (existing["amount"]["refund"], existing["amount"]["total"]) != (
                refund_fee,
                total_fee,
            ):
                raise BusinessError(
                    "REFUND_FEE_MISMATCH", "订单金额或退款金额与之前请求不一致，请核实后再试"
                )
            return _accepted(existing, order)
        if order["trade_state"] not in PAID_STATES:
            raise BusinessError("ERROR", "订单状态错误，订单未支付")
        if total_fee != order["amount"]["total"]:
            raise BusinessError(
                "REFUND_FEE_MISMATCH", "订单金额或退款金额与之前请求不一致，请核实后再试"
            )
        taken = refunds.order_refunds(state, order)
        remaining = order["amount"]["total"] - refunds.refunded(taken)
        if remaining <= 0:
            raise BusinessError("ERROR", "订单已全额退款")
        if refund_fee > remaining:
            raise BusinessError("INVALID_REQUEST", "refund_fee大于可退金额")
        if len(taken) >= refunds.MAX_REFUNDS_PER_ORDER:
            raise BusinessError("ERROR", "该订单退款次数已达上限（50次）")
        refund, final_status = refunds.add_refund(
            state,
            order,
            out_refund_no,
            refund_fee,
            api_version="v2",
            reason=fields.get("refund_desc"),
            notify_url=notify_url,
            funds_account=account,
        )
        answer = _accepted(refund, order)  # WeChat answers before the money has moved
    refunds.finish_refund(state, refund, final_status)
    return answer


def _accepted(refund, order):
    """The fields of an accepted refund, as /secapi/pay/refund answers them."""
    total, amount = refund["amount"]["total"], refund["amount"]["refund"]
    return {
        "transaction_id": refund["transaction_id"],
        "out_trade_no": refund["out_trade_no"],
        "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"],
        "refund_fee": amount,
        "settlement_refund_fee": amount,
        "total_fee": total,
        "settlement_total_fee": total,
        "fee_type": "CNY",
        "cash_fee": total,
        "cash_refund_fee": amount,
        "coupon_refund_fee": 0,
        "coupon_refund_count": 0,
        "refund_channel": "",
    }


def _refundquery(fields, state):
    """By refund_id > out_refund_no > transaction_id > out_trade_no (WeChat's priority); a
    refund reference lists that refund, an order reference the order's refunds, 10 a page."""
    offset = fields.get("offset")
    if offset is not None and not offset.isdigit():
        raise BusinessError("PARAM_ERROR", "offset参数错误")
    with state.lock:
        if fields.get("refund_id") or fields.get("out_refund_no"):
            found = [
                r
                for r in state.refunds.values()
                if r["mchid"] == merchant(fields)
                and (
                    r["refund_id"] == fields.get("refund_id")
                    or (
                        not fields.get("refund_id")
                        and r["out_refund_no"] == fields.get("out_refund_no")
                    )
                )
            ]
            order = state.order(found[0]["mchid"], found[0]["out_trade_no"]) if found else None
        elif fields.get("transaction_id") or fields.get("out_trade_no"):
            order = state.order_by_reference(fields, merchant(fields))
            found = refunds.order_refunds(state, order) if order else []
        else:
            raise BusinessError("LACK_PARAMS", "缺少参数out_refund_no")
        found = [r for r in found if r.get("api_version") == "v2"]
        if order is None or order["api_version"] != "v2" or not found:
            raise BusinessError("REFUNDNOTEXIST", "退款订单查询失败")
        start = int(offset or 0)
        page = found[start : start + PAGE_SIZE]
        if not page:
            raise BusinessError("REFUNDNOTEXIST", "退款订单查询失败")
        answer = {
            "transaction_id": order["transaction_id"],
            "out_trade_no": order["out_trade_no"],
            "total_fee": order["amount"]["total"],
            "settlement_total_fee": order["amount"]["total"],
            "fee_type": "CNY",
            "cash_fee": order["amount"]["total"],
            "refund_count": len(page),
        }
        if offset is not None:
            answer["total_refund_count"] = len(found)
        for n, refund in enumerate(page):
            answer.update({f"{name}_{n}": value for name, value in _indexed(refund).items()})
        return answer


def _indexed(refund):
    """One refund's ``_$n`` fields in a refundquery answer (WeChat's spelling: ``accout``)."""
    fields = {
        "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"],
        "refund_channel": refund["channel"],
        "refund_fee": refund["amount"]["refund"],
        "settlement_refund_fee": refund["amount"]["refund"],
        "coupon_refund_fee": 0,
        "coupon_refund_count": 0,
        "refund_status": V2_STATUS[refund["status"]],
        "refund_account": refund["funds_account"],
        "refund_recv_accout": refund["user_received_account"],
    }
    if refund["success_time"]:
        fields["refund_success_time"] = _v2_time(refund["success_time"])
    return fields


def _v2_time(rfc3339):
    """v2 refunds' ``yyyy-MM-dd HH:mm:ss`` (Beijing) from the record's RFC 3339 time."""
    return datetime.fromisoformat(rfc3339).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


# --- the refund notification --------------------------------------------------------------------


def notify_refund(state, refund):
    """Send the v2 refund notification of a settled refund (docs/protocol.md B5).

    No sign: the refund travels in ``req_info``, AES-256-ECB (PKCS#7) under the lowercase hex
    MD5 of the API key, as ``<root>...</root>``. Acknowledged and retried like a v2 payment
    notification. The "tamper" fault sends a copy encrypted with another key first.
    """
    config, key = state.config, api_key(state)
    with state.lock:
        order = state.orders.get((refund["mchid"], refund["out_trade_no"])) or {}
        # The appid the order was placed with (the mini program's, an official account's, an
        # app's); a sub-merchant's refund: the provider's appid and mch_id, then the
        # sub-merchant's.
        whose = {"appid": order.get("appid") or config.appid, "mch_id": config.mchid}
        if order.get("sp_mchid"):
            whose = {"appid": order["appid"], "mch_id": order["sp_mchid"]}
            whose["sub_mch_id"] = order["mchid"]
            if order.get("sub_appid"):
                whose["sub_appid"] = order["sub_appid"]
        info = {
            "transaction_id": refund["transaction_id"],
            "out_trade_no": refund["out_trade_no"],
            "refund_id": refund["refund_id"],
            "out_refund_no": refund["out_refund_no"],
            "total_fee": refund["amount"]["total"],
            "settlement_total_fee": refund["amount"]["total"],
            "refund_fee": refund["amount"]["refund"],
            "settlement_refund_fee": refund["amount"]["refund"],
            "refund_status": V2_STATUS[refund["status"]],
            "refund_recv_accout": refund["user_received_account"],
            "refund_account": refund["funds_account"],
            "refund_request_source": "API",
        }
        if refund["success_time"]:
            info["success_time"] = _v2_time(refund["success_time"])
    plaintext = b"<root>" + to_xml(info)[len(b"<xml>") : -len(b"</xml>")] + b"</root>"

    def envelope(encryption_key):
        return to_xml(
            {
                "return_code": "SUCCESS",
                **whose,
                "nonce_str": nonce(32),
                "req_info": aes_ecb_encrypt(encryption_key, plaintext),
            }
        )

    state.deliver(
        refund["notify_url"],
        envelope(v2_refund_key(key)),
        {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"},
        acknowledged,
        event_id=refund["refund_id"],
        out_trade_no=refund["out_trade_no"],
        tamper=lambda _body: envelope(v2_refund_key(key[::-1])),
    )
