"""API v2 bills (docs/protocol.md B4 downloadbill): ``POST /pay/downloadbill`` and
``POST /pay/downloadfundflow`` answer the bill as the body (plain text, or gzip with
tar_type=GZIP), not XML and not signed. No bill that day: XML return_code FAIL, return_msg
"No Bill Exist". The files are ``sandbox.pay.bills``'s.
"""

import gzip
from datetime import datetime

from flask import Response, current_app

from server.wechatpay.crypto import HMAC_SHA256

from ..bills import COLUMNS, V2, fund_flow_text, trade_bill_text
from .core import BusinessError, blueprint, merchant, return_fail, signed_request, xml_response

bp = blueprint("v2_bills", __name__)


def _state():
    return current_app.extensions["sandbox"]


@bp.route("/pay/downloadbill", methods=["GET", "POST"])
def downloadbill():
    fields, _sign_type = signed_request()
    bill_type = fields.get("bill_type") or "ALL"
    if bill_type not in COLUMNS:
        return return_fail("bill_type参数错误")
    # A provider's bill covers all its sub-merchants, or the one sub_mch_id names.
    try:
        sub_mchid = merchant(fields) if fields.get("sub_mch_id") else None
    except BusinessError as exc:
        return return_fail(exc.err_code_des)
    return _v2_bill(
        fields,
        lambda state, mchid, day: trade_bill_text(state, mchid, day, bill_type, V2, sub_mchid),
    )


@bp.route("/pay/downloadfundflow", methods=["GET", "POST"])
def downloadfundflow():
    # WeChat also requires the merchant's client certificate (mutual TLS) here; the simulator
    # serves plain HTTP, so only the sign type can be checked.
    fields, sign_type = signed_request()
    if sign_type != HMAC_SHA256:
        return return_fail("sign_type参数错误,仅支持HMAC-SHA256")
    account_type = fields.get("account_type") or ""
    if account_type not in ("Basic", "Operation", "Fees"):
        return return_fail("account_type参数错误")
    return _v2_bill(
        fields,
        lambda state, mchid, day: (
            fund_flow_text(state, mchid, day, V2) if account_type == "Basic" else None
        ),
    )


def _v2_bill(fields, make_text):
    """Answer the bill ``make_text(state, mchid, day)`` makes for the requesting merchant."""
    try:
        day = datetime.strptime(fields.get("bill_date") or "", "%Y%m%d").date()
    except ValueError:
        return return_fail("bill_date参数错误")
    if fields.get("tar_type") not in (None, "", "GZIP"):
        return return_fail("tar_type参数错误")
    state = _state()
    with state.lock:
        text = make_text(state, fields["mch_id"], day)
    if text is None:
        return xml_response(
            {"return_code": "FAIL", "return_msg": "No Bill Exist", "error_code": "20002"}
        )
    data = text.encode()
    if fields.get("tar_type") == "GZIP":
        return Response(gzip.compress(data, mtime=0), mimetype="application/x-gzip")
    return Response(data, content_type="text/plain;charset=utf-8")
