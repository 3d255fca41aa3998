"""Bills (protocol C7 "Bills", B4 downloadbill): v3 trade and fund flow bills, v2 downloadbill and
downloadfundflow, laid out as the bills WeChat publishes.

v3: ``GET /v3/bill/tradebill`` and ``GET /v3/bill/fundflowbill`` answer a SHA1 and a
``download_url`` valid for 5 minutes; ``GET /v3/billdownload/file`` needs a signed request but
is itself unsigned, as at WeChat. The SHA1 covers the bill itself, before gzip (WeChat's doc:
原始账单(gzip需要解压缩)的摘要值). A v3 file is UTF-8 without BOM, lines ending in LF, the last
one too, as in a real v3 bill captured in a Go SDK's test (merchant 1601959334, 2021-01-28).

v2: ``POST /pay/downloadbill`` answers the bill as the body (plain text, or gzip with
tar_type=GZIP), not XML and not signed; UTF-8 with a BOM, lines ending in CRLF and no line end
after the summary, as in a real v2 bill quoted in a merchant's code (merchant 1393091302,
2019-11-03). No bill that day: XML return_code FAIL, return_msg "No Bill Exist".

Rows: one per payment and per refund of that Beijing day (today included, unlike WeChat, so
that a demo needs no waiting), amounts in yuan. ``POST /sandbox/bills/<day>`` (control.py) adds
disagreements to a day's bill so that reconciliation can be tested.
"""

import gzip
import hashlib
import secrets
import time
from datetime import datetime
from decimal import Decimal

from flask import Response, current_app, g, request

from . import v2, v3
from .v3 import ApiError, param_error
from .wire import BEIJING, json_response

DOWNLOAD_LIFETIME = 300
# The ALL layout of merchants since 2018 (protocol B4), column by column.
ALL_COLUMNS = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
).split(",")
# SUCCESS leaves out the refund columns (as in the v2 sample above); REFUND adds the refund's
# request and success times (older doc layout, adapted to the current amount columns).
SUCCESS_COLUMNS = [
    c
    for c in ALL_COLUMNS
    if c
    not in (
        "微信退款单号",
        "商户退款单号",
        "退款金额",
        "充值券退款金额",
        "退款类型",
        "退款状态",
        "申请退款金额",
    )
]
REFUND_COLUMNS = ALL_COLUMNS[:14] + ["退款申请时间", "退款成功时间"] + ALL_COLUMNS[14:]
COLUMNS = {"ALL": ALL_COLUMNS, "SUCCESS": SUCCESS_COLUMNS, "REFUND": REFUND_COLUMNS}
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
FUND_FLOW_HEADER = (
    "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),"
    "账户结余(元),资金变更提交申请人,备注,业务凭证号"
)
FUND_FLOW_SUMMARY = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"
FEE_RATE = Decimal("0.006")  # 0.60%, the usual rate in real bills
# Refund states (API) as the bill's 退款状态 names them.
BILL_REFUND_STATUS = {
    "SUCCESS": "SUCCESS",
    "PROCESSING": "PROCESSING",
    "ABNORMAL": "CHANGE",
    "CLOSED": "FAIL",
}
V3, V2 = "v3", "v2"

v3_bp = v3.blueprint("v3_bills", __name__)
v2_bp = v2.blueprint("v2_bills", __name__)


def _state():
    return current_app.extensions["sandbox"]


# --- v3 ----------------------------------------------------------------------------------------


@v3_bp.get("/v3/bill/tradebill")
def trade_bill():
    bill_type = request.args.get("bill_type", "ALL")
    if bill_type not in COLUMNS:
        raise param_error("/bill_type", "must be ALL, SUCCESS or REFUND", bill_type)
    return _v3_bill(lambda state, day: trade_bill_text(state, day, bill_type, V3))


@v3_bp.get("/v3/bill/fundflowbill")
def fund_flow_bill():
    account_type = request.args.get("account_type", "BASIC")
    if account_type not in ("BASIC", "OPERATION", "FEES"):
        raise param_error("/account_type", "must be BASIC, OPERATION or FEES", account_type)
    # Payments and refunds move the basic account; the others stay empty here.
    return _v3_bill(
        lambda state, day: fund_flow_text(state, day, V3) if account_type == "BASIC" else None
    )


def _v3_bill(make_text):
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
        text = make_text(state, day)
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


@v3_bp.get("/v3/billdownload/file")
def download_bill():
    state = _state()
    with state.lock:
        data, expires_at = state.bill_files.get(request.args.get("token"), (None, 0))
    if data is None or expires_at < time.time():
        raise ApiError(400, "INVALID_REQUEST", "下载链接不存在或已过期")
    g.unsigned = True  # the bill file is the one v3 answer WeChat does not sign
    return Response(data, mimetype="application/octet-stream")


# --- the files ---------------------------------------------------------------------------------


def trade_bill_text(state, day, bill_type, version):
    """The trade bill of one Beijing day, or None when nothing happened that day."""
    entries = []  # dicts: column -> value, plus "_paid" / "_refunded" fen and "_fee" yuan
    if bill_type in ("ALL", "SUCCESS"):
        entries += [
            _payment(state, order)
            for order in state.orders.values()
            if order.get("paid_at") and _day(order["paid_at"]) == day
        ]
    if bill_type in ("ALL", "REFUND"):
        entries += [
            _refund(state, refund)
            for refund in state.refunds.values()
            if _refund_day(refund) == day
        ]
    entries = _apply_changes(state, day, entries)
    if not entries:
        return None
    entries.sort(key=lambda entry: entry["交易时间"])
    paid = sum(entry["_paid"] for entry in entries)
    refunded = sum(entry["_refunded"] for entry in entries)
    fees = sum((entry["_fee"] for entry in entries), Decimal(0))
    summary = [
        str(len(entries)),
        _yuan(paid),
        _yuan(refunded),
        "0.00",
        f"{fees:.5f}",
        _yuan(paid),
        _yuan(refunded),
    ]
    columns = COLUMNS[bill_type]
    lines = [",".join(columns)] + [_line(entry.get(c, "") for c in columns) for entry in entries]
    return _layout(lines + [SUMMARY_HEADER, _line(summary)], version)


def fund_flow_text(state, day, version):
    """The basic account's fund flow of one Beijing day: payments in, refunds out."""
    moves = []  # (time, business no, amount fen, income?, name, voucher)
    for order in state.orders.values():
        if order.get("paid_at") and _day(order["paid_at"]) == day:
            moves.append(
                (
                    _time(order["paid_at"]),
                    order["transaction_id"],
                    order["amount"]["total"],
                    True,
                    "交易",
                    order["out_trade_no"],
                )
            )
    for refund in state.refunds.values():
        if refund["status"] == "SUCCESS" and _refund_day(refund) == day:
            moves.append(
                (
                    refund["success_time"].replace("T", " ")[:19],
                    refund["refund_id"],
                    refund["amount"]["refund"],
                    False,
                    "退款",
                    refund["out_refund_no"],
                )
            )
    for change in state.bill_changes.get(day.isoformat(), []):
        if change["kind"] == "payment":
            moves.append(
                (
                    _time(change["paid_at"]),
                    change["transaction_id"],
                    change["total"],
                    True,
                    "交易",
                    change["out_trade_no"],
                )
            )
        elif change["kind"] == "refund":
            moves.append(
                (
                    _time(change["paid_at"]),
                    change["refund_id"],
                    change["refund"],
                    False,
                    "退款",
                    change["out_refund_no"],
                )
            )
    if not moves:
        return None
    moves.sort()
    balance, lines = 0, [FUND_FLOW_HEADER]
    for when, business_no, fen, income, name, voucher in moves:
        balance += fen if income else -fen
        lines.append(
            _line(
                [
                    when,
                    business_no,
                    _flow_no(business_no),
                    name,
                    name,
                    "收入" if income else "支出",
                    _yuan(fen),
                    _yuan(balance),
                    "system" if income else f"{state.config.mchid}API",
                    "",
                    voucher,
                ]
            )
        )
    incomes = [m[2] for m in moves if m[3]]
    expenses = [m[2] for m in moves if not m[3]]
    lines += [
        FUND_FLOW_SUMMARY,
        _line(
            [
                str(len(moves)),
                str(len(incomes)),
                _yuan(sum(incomes)),
                str(len(expenses)),
                _yuan(sum(expenses)),
            ]
        ),
    ]
    return _layout(lines, version)


def _layout(lines, version):
    if version == V3:
        return "\n".join(lines) + "\n"
    return "\ufeff" + "\r\n".join(lines)


def _payment(state, order):
    total = order["amount"]["total"]
    fee = _fee(total)
    return {
        "交易时间": _time(order["paid_at"]),
        "公众账号ID": order.get("appid") or state.config.appid,
        "商户号": state.config.mchid,
        "特约商户号": "0",
        "设备号": "",
        "微信订单号": order["transaction_id"],
        "商户订单号": order["out_trade_no"],
        "用户标识": _openid(order),
        "交易类型": order.get("trade_type", "JSAPI"),
        "交易状态": "SUCCESS",
        "付款银行": order.get("bank_type", "OTHERS"),
        "货币种类": "CNY",
        "应结订单金额": _yuan(total),
        "代金券金额": "0.00",
        "微信退款单号": "0",
        "商户退款单号": "0",
        "退款金额": "0.00",
        "充值券退款金额": "0.00",
        "退款类型": "",
        "退款状态": "",
        "商品名称": _product(order),
        "商户数据包": order.get("attach", ""),
        "手续费": f"{fee:.5f}",
        "费率": "0.60%",
        "订单金额": _yuan(total),
        "申请退款金额": "0.00",
        "费率备注": "",
        "_paid": total,
        "_refunded": 0,
        "_fee": fee,
    }


def _refund(state, refund):
    order = state.orders[refund["out_trade_no"]]
    amount = refund["amount"]["refund"]
    settled = refund["status"] == "SUCCESS"
    fee = -_fee(amount) if settled else Decimal(0)
    entry = _payment(state, order)
    entry.update(
        {
            "交易时间": (refund["success_time"] or refund["create_time"]).replace("T", " ")[:19],
            "交易状态": "REFUND",
            "应结订单金额": "0.00",
            "订单金额": "0.00",
            "微信退款单号": refund["refund_id"],
            "商户退款单号": refund["out_refund_no"],
            "退款金额": _yuan(amount) if settled else "0.00",
            "申请退款金额": _yuan(amount),
            "退款类型": "ORIGINAL",
            "退款状态": BILL_REFUND_STATUS.get(refund["status"], refund["status"]),
            "退款申请时间": refund["create_time"].replace("T", " ")[:19],
            "退款成功时间": (refund["success_time"] or "").replace("T", " ")[:19],
            "手续费": f"{fee:.5f}",
            "_paid": 0,
            "_refunded": amount if settled else 0,
            "_fee": fee,
        }
    )
    return entry


def _apply_changes(state, day, entries):
    """Disagreements armed with POST /sandbox/bills/<day> (see control.py)."""
    for change in state.bill_changes.get(day.isoformat(), []):
        if change["kind"] == "amount":
            for entry in entries:
                if entry["商户订单号"] == change["out_trade_no"] and entry["交易状态"] == "SUCCESS":
                    total = change["total"]
                    entry.update(
                        {
                            "应结订单金额": _yuan(total),
                            "订单金额": _yuan(total),
                            "_paid": total,
                            "_fee": _fee(total),
                            "手续费": f"{_fee(total):.5f}",
                        }
                    )
        elif change["kind"] == "payment":
            order = {
                "paid_at": change["paid_at"],
                "transaction_id": change["transaction_id"],
                "out_trade_no": change["out_trade_no"],
                "amount": {"total": change["total"]},
                "description": "账单外的支付",
            }
            entries.append(_payment(state, order))
        elif change["kind"] == "refund":
            order = state.orders.get(change["out_trade_no"]) or {
                "paid_at": change["paid_at"],
                "transaction_id": change["transaction_id"],
                "out_trade_no": change["out_trade_no"],
                "amount": {"total": change["refund"]},
            }
            entry = _payment(state, order)
            fee = -_fee(change["refund"])
            entry.update(
                {
                    "交易时间": _time(change["paid_at"]),
                    "交易状态": "REFUND",
                    "应结订单金额": "0.00",
                    "订单金额": "0.00",
                    "微信退款单号": change["refund_id"],
                    "商户退款单号": change["out_refund_no"],
                    "退款金额": _yuan(change["refund"]),
                    "申请退款金额": _yuan(change["refund"]),
                    "退款类型": "ORIGINAL",
                    "退款状态": "SUCCESS",
                    "退款申请时间": _time(change["paid_at"]),
                    "退款成功时间": _time(change["paid_at"]),
                    "手续费": f"{fee:.5f}",
                    "_paid": 0,
                    "_refunded": change["refund"],
                    "_fee": fee,
                }
            )
            entries.append(entry)
    return entries


def _line(values):
    # Every field starts with a backtick so spreadsheets keep long numbers as text. WeChat
    # keeps a value's commas; a reader splits on ",`", so replace none here either.
    return ",".join("`" + str(value) for value in values)


def _yuan(fen):
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _fee(fen):
    """The fee in yuan, five decimals, as bills show it (exact: Decimal, not float)."""
    return (Decimal(fen) * FEE_RATE / 100).quantize(Decimal("0.00001"))


def _flow_no(business_no):
    """A 28-digit fund flow number, the same on every download of the bill."""
    return "1" + str(int(hashlib.sha1(business_no.encode()).hexdigest(), 16))[:27]


def _openid(order):
    return (order.get("payer") or {}).get("openid") or order.get("openid", "")


def _product(order):
    return order.get("description") or order.get("body", "")


def _refund_day(refund):
    when = refund["success_time"] or refund["create_time"]
    return datetime.fromisoformat(when).astimezone(BEIJING).date()


def _day(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).date()


def _time(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


# --- v2 ----------------------------------------------------------------------------------------


@v2_bp.route("/pay/downloadbill", methods=["GET", "POST"])
def downloadbill():
    fields, _sign_type = v2._signed_request()
    bill_type = fields.get("bill_type") or "ALL"
    if bill_type not in COLUMNS:
        return v2.return_fail("bill_type参数错误")
    return _v2_bill(fields, lambda state, day: trade_bill_text(state, day, bill_type, V2))


@v2_bp.route("/pay/downloadfundflow", methods=["GET", "POST"])
def downloadfundflow():
    # WeChat also requires the merchant's client certificate (mutual TLS) here; the simulator
    # serves plain HTTP, so only the sign type can be checked.
    fields, sign_type = v2._signed_request()
    if sign_type != v2.HMAC_SHA256:
        return v2.return_fail("sign_type参数错误,仅支持HMAC-SHA256")
    account_type = fields.get("account_type") or ""
    if account_type not in ("Basic", "Operation", "Fees"):
        return v2.return_fail("account_type参数错误")
    return _v2_bill(
        fields,
        lambda state, day: fund_flow_text(state, day, V2) if account_type == "Basic" else None,
    )


def _v2_bill(fields, make_text):
    try:
        day = datetime.strptime(fields.get("bill_date") or "", "%Y%m%d").date()
    except ValueError:
        return v2.return_fail("bill_date参数错误")
    if fields.get("tar_type") not in (None, "", "GZIP"):
        return v2.return_fail("tar_type参数错误")
    state = _state()
    with state.lock:
        text = make_text(state, day)
    if text is None:
        return v2.xml_response(
            {"return_code": "FAIL", "return_msg": "No Bill Exist", "error_code": "20002"}
        )
    data = text.encode()
    if fields.get("tar_type") == "GZIP":
        return Response(gzip.compress(data, mtime=0), mimetype="application/x-gzip")
    return Response(data, content_type="text/plain;charset=utf-8")
