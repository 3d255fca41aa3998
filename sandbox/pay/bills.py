"""Bill files (docs/protocol.md C7 "Bills", B4 downloadbill): the trade and fund flow bills of a
Beijing day, laid out as the bills WeChat publishes, for both API versions.

v3 (``sandbox.pay.v3.bills``): UTF-8 with a BOM, lines ending in CRLF, the last one too. That
is the only layout whose SHA1 is the ``hash_value`` WeChat announced for a real v3 trade bill
quoted in a Go SDK's test (merchant 1601959334, 2021-01-28), and the layout of the v3 bill
fixture of WeChat's official PHP SDK and of wechatpay-axios-plugin, whose ``castCsvBill`` drops
the first three bytes and expects an empty last line (tests/bills/fixtures/README.md). The fund
flow bill is laid out the same way (inferred: no real v3 fund flow bytes are public).

v2 (``sandbox.pay.v2.bills``): UTF-8 with a BOM, lines ending in CRLF and no line end after
the summary, as in a real v2 bill quoted in a merchant's code (merchant 1393091302,
2019-11-03).

Rows: one per payment and per refund of that Beijing day (today included, unlike WeChat, so
that a demo needs no waiting), amounts in yuan. ``POST /sandbox/bills/<day>``
(``sandbox.control.bills``) adds disagreements to a day's bill so that reconciliation can be
tested.
"""

import hashlib
from datetime import datetime
from decimal import Decimal

from ..wire import BEIJING
from . import codepay

# The ALL layout of merchants since 2018 (docs/protocol.md B4), column by column.
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


def trade_bill_text(state, mchid, day, bill_type, version, sub_mchid=None):
    """The merchant's trade bill of one Beijing day, or None when nothing happened that day.
    A service provider's has its sub-merchants' orders (or ``sub_mchid``'s only)."""

    def whose(owner, out_trade_no):
        order = state.orders.get((owner, out_trade_no)) or {}
        if sub_mchid:
            return order.get("sp_mchid") == mchid and owner == sub_mchid
        return owner == mchid or order.get("sp_mchid") == mchid

    entries = []  # dicts: column -> value, plus "_paid" / "_refunded" fen and "_fee" yuan
    if bill_type in ("ALL", "SUCCESS"):
        for order in state.orders.values():
            codepay.advance(state, order)  # a PIN typed since the last look
        entries += [
            _payment(state, order, mchid)
            for order in state.orders.values()
            if whose(order["mchid"], order["out_trade_no"])
            and order.get("paid_at")
            and _day(order["paid_at"]) == day
        ]
    if bill_type in ("ALL", "REFUND"):
        entries += [
            _refund(state, refund)
            for refund in state.refunds.values()
            if whose(refund["mchid"], refund["out_trade_no"]) and _refund_day(refund) == day
        ]
    entries = _apply_changes(state, mchid, day, entries)
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


def fund_flow_text(state, mchid, day, version):
    """The merchant's basic account's fund flow of one Beijing day: payments in, refunds out."""
    moves = []  # (time, business no, amount fen, income?, name, voucher)
    for order in state.orders.values():
        if order["mchid"] == mchid and order.get("paid_at") and _day(order["paid_at"]) == day:
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
        if (
            refund["mchid"] == mchid
            and refund["status"] == "SUCCESS"
            and _refund_day(refund) == day
        ):
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
    for change in state.bill_changes.get((mchid, day.isoformat()), []):
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
                    "system" if income else f"{mchid}API",
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
        return "\ufeff" + "\r\n".join(lines) + "\r\n"
    return "\ufeff" + "\r\n".join(lines)


def _payment(state, order, mchid):
    total = order["amount"]["total"]
    fee = _fee(total)
    return {
        "交易时间": _time(order["paid_at"]),
        "公众账号ID": order.get("appid") or state.config.appid,
        # A sub-merchant's order: the provider's mchid, then the sub-merchant's.
        "商户号": order.get("sp_mchid") or mchid,
        "特约商户号": order["mchid"] if order.get("sp_mchid") else "0",
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
    order = state.orders[(refund["mchid"], refund["out_trade_no"])]
    amount = refund["amount"]["refund"]
    settled = refund["status"] == "SUCCESS"
    fee = -_fee(amount) if settled else Decimal(0)
    entry = _payment(state, order, refund["mchid"])
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


def _apply_changes(state, mchid, day, entries):
    """Disagreements armed with POST /sandbox/bills/<day> (``sandbox.control.bills``)."""
    for change in state.bill_changes.get((mchid, day.isoformat()), []):
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
            entries.append(_payment(state, order, mchid))
        elif change["kind"] == "refund":
            order = state.orders.get((mchid, change["out_trade_no"])) or {
                "paid_at": change["paid_at"],
                "transaction_id": change["transaction_id"],
                "out_trade_no": change["out_trade_no"],
                "amount": {"total": change["refund"]},
            }
            entry = _payment(state, order, mchid)
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
    payer = order.get("payer") or {}
    return (
        payer.get("openid")
        or payer.get("sp_openid")
        or payer.get("sub_openid")
        or order.get("openid", "")
    )


def _product(order):
    return order.get("description") or order.get("body", "")


def _refund_day(refund):
    when = refund["success_time"] or refund["create_time"]
    return datetime.fromisoformat(when).astimezone(BEIJING).date()


def _day(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).date()


def _time(timestamp):
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
