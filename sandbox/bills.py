"""API v3 trade bills (protocol C7 "Bills", B4 file layout).

``GET /v3/bill/tradebill`` answers a SHA1 and a ``download_url`` on this simulator, valid for
5 minutes; ``GET /v3/billdownload/file`` needs a signed request but is itself unsigned, as at
WeChat. The file is the backtick CSV of the v2 bill, in yuan, one row per payment and per
refund of that Beijing day (today included, unlike WeChat, so that a demo needs no waiting);
with tar_type=GZIP the hash covers the compressed bytes.
"""
import gzip
import hashlib
import secrets
import time
from datetime import datetime

from flask import Response, current_app, g, request

from .v3 import ApiError, bp, param_error
from .wire import BEIJING, json_response

DOWNLOAD_LIFETIME = 300
HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
          "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
          "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
          "费率备注")
SUMMARY_HEADER = ("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
                  "申请退款总金额")
FEE_RATE = 0.006  # 0.60%, the usual rate in real bills


def _state():
    return current_app.extensions["sandbox"]


@bp.get("/v3/bill/tradebill")
def trade_bill():
    args = request.args
    try:
        day = datetime.strptime(args.get("bill_date", ""), "%Y-%m-%d").date()
    except ValueError:
        raise param_error("/bill_date", "must be YYYY-MM-DD", args.get("bill_date"))
    bill_type = args.get("bill_type", "ALL")
    if bill_type not in ("ALL", "SUCCESS", "REFUND"):
        raise param_error("/bill_type", "must be ALL, SUCCESS or REFUND", bill_type)
    tar_type = args.get("tar_type")
    if tar_type not in (None, "GZIP"):
        raise param_error("/tar_type", "must be GZIP", tar_type)

    state = _state()
    with state.lock:
        text = bill_text(state, day, bill_type)
        if text is None:
            raise ApiError(400, "NO_STATEMENT_EXIST", "账单不存在")
        data = text.encode()
        if tar_type == "GZIP":
            data = gzip.compress(data, mtime=0)
        token = secrets.token_urlsafe(24)
        state.bill_files[token] = (data, time.time() + DOWNLOAD_LIFETIME)
    return json_response({"hash_type": "SHA1", "hash_value": hashlib.sha1(data).hexdigest(),
                          "download_url": f"{request.host_url}v3/billdownload/file?token={token}"})


@bp.get("/v3/billdownload/file")
def download_bill():
    state = _state()
    with state.lock:
        data, expires_at = state.bill_files.get(request.args.get("token"), (None, 0))
    if data is None or expires_at < time.time():
        raise ApiError(400, "INVALID_REQUEST", "下载链接不存在或已过期")
    g.unsigned = True  # the bill file is the one v3 answer WeChat does not sign
    return Response(data, mimetype="application/octet-stream")


def bill_text(state, day, bill_type):
    """The bill of one Beijing day, or None when nothing happened that day."""
    entries = []  # (time, columns, paid fen, refunded fen)
    for order in state.orders.values():
        if order.get("paid_at") and bill_type in ("ALL", "SUCCESS") \
                and _day(order["paid_at"]) == day:
            entries.append(_payment(state, order))
    for refund in state.refunds.values():
        if refund["status"] == "SUCCESS" and bill_type in ("ALL", "REFUND") \
                and refund["success_time"][:10] == day.isoformat():
            entries.append(_refund(state, refund))
    if not entries:
        return None
    entries.sort(key=lambda entry: entry[0])
    paid = sum(entry[2] for entry in entries)
    refunded = sum(entry[3] for entry in entries)
    summary = [str(len(entries)), _yuan(paid), _yuan(refunded), "0.00",
               _fee(paid - refunded), _yuan(paid), _yuan(refunded)]
    lines = [HEADER] + [_line(entry[1]) for entry in entries] + [SUMMARY_HEADER, _line(summary)]
    return "\n".join(lines) + "\n"


def _payment(state, order):
    total = order["amount"]["total"]
    when = _time(order["paid_at"])
    columns = [when, order.get("appid", ""), state.config.mchid, "0", "",
               order["transaction_id"], order["out_trade_no"], _openid(order),
               order.get("trade_type", "JSAPI"), "SUCCESS", order.get("bank_type", "OTHERS"),
               "CNY", _yuan(total), "0.00", "0", "0", "0.00", "0.00", "", "",
               _product(order), order.get("attach", ""), _fee(total), "0.60%", _yuan(total),
               "0.00", ""]
    return when, columns, total, 0


def _refund(state, refund):
    order = state.orders[refund["out_trade_no"]]
    amount = refund["amount"]["refund"]
    when = refund["success_time"].replace("T", " ")[:19]
    columns = [when, order.get("appid", ""), state.config.mchid, "0", "",
               refund["transaction_id"], refund["out_trade_no"], _openid(order),
               order.get("trade_type", "JSAPI"), "REFUND", order.get("bank_type", "OTHERS"),
               "CNY", "0.00", "0.00", refund["refund_id"], refund["out_refund_no"],
               _yuan(amount), "0.00", "ORIGINAL", "SUCCESS", _product(order),
               order.get("attach", ""), "-" + _fee(amount), "0.60%", "0.00", _yuan(amount), ""]
    return when, columns, 0, amount


def _line(values):
    # Every field starts with a backtick so spreadsheets keep long numbers as text.
    return ",".join("`" + str(value).replace(",", " ") for value in values)


def _yuan(fen):
    return f"{fen // 100}.{fen % 100:02d}"


def _fee(fen):
    return f"{fen * FEE_RATE / 100:.5f}"


def _openid(order):
    return (order.get("payer") or {}).get("openid") or order.get("openid", "")


def _product(order):
    return order.get("description") or order.get("body", "")


def _day(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).date()


def _time(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
