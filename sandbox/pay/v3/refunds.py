"""API v3 domestic refunds (docs/protocol.md C7 "Refund", C6 refund notifications).

A refund is answered PROCESSING, as at WeChat, and then settles at once as SUCCESS, sending
REFUND.SUCCESS to the refund's notify_url when it has one (``sandbox.pay.refunds``, shared
with v2). An ABNORMAL refund can be sent again to a bank card with apply-abnormal-refund, as
at WeChat. Checks as WeChat's: ``amount.total`` must be the order's, at most 50 refunds per
order, INVALID_REQUEST beyond what is left, and the same out_refund_no answers the same refund.
"""

import time
import uuid

from flask import current_app, g, request

from server.wechatpay.crypto import aes_gcm_encrypt, nonce

from ...wire import json_bytes, json_response, rfc3339, signed_headers
from ..refunds import (
    FINAL_STATUSES,
    MAX_REFUNDS_PER_ORDER,
    OUT_REFUND_NO,
    add_refund,
    finish_refund,
    order_refunds,
    refunded,
    settle_refund,
)
from .core import ApiError, blueprint, json_body, param_error, valid_notify_url
from .partner import check_sub_mchid

bp = blueprint("v3_refunds", __name__)


def _state():
    return current_app.extensions["sandbox"]


@bp.post("/v3/refund/domestic/refunds")
def create_refund():
    state = _state()
    params = json_body()
    out_refund_no = params.get("out_refund_no")
    if not isinstance(out_refund_no, str) or not OUT_REFUND_NO.match(out_refund_no):
        raise param_error("/out_refund_no", "must be 1-64 characters of 0-9a-zA-Z_-|*@")
    reason = params.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 80):
        raise param_error("/reason", "must be a string of at most 80 characters")
    notify_url = params.get("notify_url")
    if notify_url is not None:
        valid_notify_url(notify_url)
    amount = params.get("amount") if isinstance(params.get("amount"), dict) else {}
    for name in ("refund", "total"):
        value = amount.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise param_error(f"/amount/{name}", "must be a positive integer (fen)")
    if amount.get("currency", "CNY") != "CNY":
        raise param_error("/amount/currency", "must be CNY", amount.get("currency"))

    if not (params.get("transaction_id") or params.get("out_trade_no")):
        raise param_error("/transaction_id", "transaction_id or out_trade_no is required")
    # A provider refunds for a sub-merchant: sub_mchid names it (and is bound to the provider).
    merchant = check_sub_mchid(params["sub_mchid"]) if "sub_mchid" in params else g.mchid
    with state.lock:
        order = state.order_by_reference(params, merchant)
        if order is None or order["api_version"] != "v3":
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        existing = state.refund(order["mchid"], out_refund_no)
        if existing is not None:
            if (
                existing["out_trade_no"] != order["out_trade_no"]
                or existing["amount"]["refund"] != amount["refund"]
            ):
                raise ApiError(400, "INVALID_REQUEST", "退款单号已用于其他退款")
            return json_response(refund_view(existing))  # a retry of the same refund
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            raise ApiError(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if amount["total"] != order["amount"]["total"]:
            raise param_error("/amount/total", "does not match the order's total", amount["total"])
        refunds = order_refunds(state, order)
        if len(refunds) >= MAX_REFUNDS_PER_ORDER:
            raise ApiError(403, "RULE_LIMIT", "退款次数超过限制")
        if refunded(refunds) + amount["refund"] > order["amount"]["total"]:
            # What WeChat answers (community reports, v2 and v3); NOT_ENOUGH is something
            # else there: the merchant account's balance is too low (arm an api fault for it).
            raise ApiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        refund, final_status = add_refund(
            state,
            order,
            out_refund_no,
            amount["refund"],
            api_version="v3",
            reason=reason,
            notify_url=notify_url,
            funds_account=params.get("funds_account") or "AVAILABLE",
        )
        answer = refund_view(refund)  # WeChat answers before the money has moved
    finish_refund(state, refund, final_status)
    return json_response(answer)


@bp.get("/v3/refund/domestic/refunds/<out_refund_no>")
def query_refund(out_refund_no):
    state = _state()
    sub_mchid = request.args.get("sub_mchid")
    merchant = check_sub_mchid(sub_mchid) if sub_mchid is not None else g.mchid
    with state.lock:
        refund = state.refund(merchant, out_refund_no)
        if refund is None:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return json_response(refund_view(refund))


@bp.post("/v3/refund/domestic/refunds/<refund_id>/apply-abnormal-refund")
def apply_abnormal_refund(refund_id):
    """Send an ABNORMAL refund again, to a bank card: it is PROCESSING, then settles (SUCCESS,
    or what an armed refund fault says) and notifies like a new refund."""
    state = _state()
    params = json_body()
    kind = params.get("type")
    if kind not in ("USER_BANK_CARD", "MERCHANT_BANK_CARD"):
        raise param_error("/type", "must be USER_BANK_CARD or MERCHANT_BANK_CARD", kind)
    if kind == "USER_BANK_CARD" and not all(
        params.get(name) for name in ("bank_type", "bank_account", "real_name")
    ):
        raise param_error(
            "/bank_account",
            "USER_BANK_CARD needs bank_type, bank_account and real_name (encrypted)",
        )
    with state.lock:
        refund = state.refund(g.mchid, params.get("out_refund_no"))
        if refund is None or refund["refund_id"] != refund_id:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        if refund["status"] != "ABNORMAL":
            raise ApiError(400, "INVALID_REQUEST", "退款单状态不是退款异常")
        refund["status"] = "PROCESSING"
        refund["channel"] = "OTHER_BANKCARD"
        refund["user_received_account"] = "用户银行卡" if kind == "USER_BANK_CARD" else "商户银行卡"
        answer = refund_view(refund)
        fault = state.take_refund_fault(refund["out_trade_no"])
    final_status = fault["status"] if fault else "SUCCESS"
    if final_status != "PROCESSING":
        settle_refund(state, refund, final_status)
    return json_response(answer)


def refund_view(refund):
    total, amount = refund["amount"]["total"], refund["amount"]["refund"]
    view = {
        key: refund[key]
        for key in (
            "refund_id",
            "out_refund_no",
            "transaction_id",
            "out_trade_no",
            "channel",
            "user_received_account",
            "create_time",
            "status",
            "funds_account",
        )
    }
    if refund["success_time"]:
        view["success_time"] = refund["success_time"]
    view["amount"] = {
        "total": total,
        "refund": amount,
        "payer_total": total,
        "payer_refund": amount,
        "settlement_total": total,
        "settlement_refund": amount,
        "discount_refund": 0,
        "currency": "CNY",
        "from": [],
    }
    view["promotion_detail"] = []
    return view


def notify_refund(state, refund):
    """The v3 refund notification: REFUND.<status>, the refund AES-GCM encrypted."""
    config = state.config
    with state.lock:
        order = state.orders.get((refund["mchid"], refund["out_trade_no"])) or {}
        # A sub-merchant's refund names the provider and the sub-merchant (partner shape).
        whose = (
            {"sp_mchid": order["sp_mchid"], "sub_mchid": order["mchid"]}
            if order.get("sp_mchid")
            else {"mchid": config.mchid}
        )
        resource = {
            **whose,
            "transaction_id": refund["transaction_id"],
            "out_trade_no": refund["out_trade_no"],
            "refund_id": refund["refund_id"],
            "out_refund_no": refund["out_refund_no"],
            "refund_status": refund["status"],
            "user_received_account": refund["user_received_account"],
            "amount": {
                "total": refund["amount"]["total"],
                "refund": refund["amount"]["refund"],
                "payer_total": refund["amount"]["total"],
                "payer_refund": refund["amount"]["refund"],
            },
        }
        if refund["success_time"]:
            resource["success_time"] = refund["success_time"]
    resource_nonce = nonce(12)
    event_id = str(uuid.uuid4())
    body = json_bytes(
        {
            "id": event_id,
            "create_time": rfc3339(time.time()),
            "resource_type": "encrypt-resource",
            "event_type": f"REFUND.{resource['refund_status']}",
            "summary": FINAL_STATUSES[resource["refund_status"]],
            "resource": {
                "original_type": "refund",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": aes_gcm_encrypt(
                    config.apiv3_key, resource_nonce, json_bytes(resource), "refund"
                ),
                "associated_data": "refund",
                "nonce": resource_nonce,
            },
        }
    )
    signer = config.notification_signer()
    state.deliver(
        refund["notify_url"],
        body,
        lambda payload: {
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/4.0",
            **signed_headers(signer, payload),
        },
        lambda response: response.status_code in (200, 204),
        event_id=event_id,
        out_trade_no=refund["out_trade_no"],
    )
