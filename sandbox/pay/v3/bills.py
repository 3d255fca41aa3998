"""API v3 bills (docs/protocol.md C7 "Bills"): ``GET /v3/bill/tradebill`` and
``GET /v3/bill/fundflowbill`` answer a SHA1 and a ``download_url`` valid for 5 minutes;
``GET /v3/billdownload/file`` needs a signed request but is itself unsigned, as at WeChat. The
SHA1 covers the bill itself, before gzip (WeChat's doc: 原始账单(gzip需要解压缩)的摘要值).
The files are ``sandbox.pay.bills``'s.
"""

import gzip
import hashlib
import secrets
import time
from datetime import datetime

from flask import Response, current_app, g, request

from ...wire import json_response
from ..bills import COLUMNS, V3, fund_flow_text, trade_bill_text
from .core import ApiError, blueprint, param_error
from .partner import check_sub_mchid

DOWNLOAD_LIFETIME = 300


bp = blueprint("v3_bills", __name__)


def _state():
    return current_app.extensions["sandbox"]


@bp.get("/v3/bill/tradebill")
def trade_bill():
    bill_type = request.args.get("bill_type", "ALL")
    if bill_type not in COLUMNS:
        raise param_error("/bill_type", "must be ALL, SUCCESS or REFUND", bill_type)
    # A provider's bill covers all its sub-merchants, or the one sub_mchid names.
    sub_mchid = request.args.get("sub_mchid")
    if sub_mchid is not None:
        check_sub_mchid(sub_mchid)
    return _v3_bill(
        lambda state, mchid, day: trade_bill_text(state, mchid, day, bill_type, V3, sub_mchid)
    )


@bp.get("/v3/bill/fundflowbill")
def fund_flow_bill():
    account_type = request.args.get("account_type", "BASIC")
    if account_type not in ("BASIC", "OPERATION", "FEES"):
        raise param_error("/account_type", "must be BASIC, OPERATION or FEES", account_type)
    # Payments and refunds move the basic account; the others stay empty here.
    return _v3_bill(
        lambda state, mchid, day: (
            fund_flow_text(state, mchid, day, V3) if account_type == "BASIC" else None
        )
    )


def _v3_bill(make_text):
    """Answer the bill ``make_text(state, mchid, day)`` makes for the requesting merchant."""
    args = request.args
    try:
        day = datetime.strptime(args.get("bill_date", ""), "%Y-%m-%d").date()
    except ValueError:
        raise param_error("/bill_date", "must be YYYY-MM-DD", args.get("bill_date")) from None
    tar_type = args.get("tar_type")
    if tar_type not in (None, "GZIP"):
        raise param_error("/tar_type", "must be GZIP", tar_type)
    state = _state()
    with state.lock:
        text = make_text(state, g.mchid, day)
        if text is None:
            raise ApiError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        bill = text.encode()
        data = gzip.compress(bill, mtime=0) if tar_type == "GZIP" else bill
        token = secrets.token_urlsafe(24)
        state.bill_files[token] = (data, time.time() + DOWNLOAD_LIFETIME)
    return json_response(
        {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(bill).hexdigest(),
            "download_url": f"{request.host_url}v3/billdownload/file?token={token}",
        }
    )


@bp.get("/v3/billdownload/file")
def download_bill():
    state = _state()
    with state.lock:
        data, expires_at = state.bill_files.get(request.args.get("token"), (None, 0))
    if data is None or expires_at < time.time():
        raise ApiError(400, "INVALID_REQUEST", "下载链接不存在或已过期")
    g.unsigned = True  # the bill file is the one v3 answer WeChat does not sign
    return Response(data, mimetype="application/octet-stream")
