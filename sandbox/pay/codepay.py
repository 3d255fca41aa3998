"""The customer at the counter (payment code, 付款码支付), shared by v3 ``codepay`` and v2
``micropay``: the auth code the cashier scans chooses what the customer does (docs/simulator.md
has the table), and the order then lives on lazily: its state is worked out from the clock
whenever it is read (``advance``), so no thread is needed and a test controls the timing
through the code itself.

    auth code (18 digits, ^1[0-5]\\d{16}$)    the customer
    1300 NNN ...........                       asks for the PIN, pays NNN tenths of a second later
    1301 NNN ...........                       asks for the PIN, closes the dialog NNN tenths of a
                                               second later without paying (walks away)
    1302 ...                                   NOTENOUGH (balance not enough)
    1303 ...                                   AUTHCODEEXPIRE (the code expired)
    1304 ...                                   AUTH_CODE_INVALID
    1305 ...                                   SYSTEMERROR, although the payment went through
    1306 ...                                   BANKERROR, and the payment failed (PAYERROR)
    any other valid code                       pays at once; over 1,000 yuan asks for the PIN
                                               first and pays 5 s (times SANDBOX_TIME_SCALE) later

WeChat sends no notification for a payment-code order (docs/counter.md): none is sent here.
Reverse (撤销) answers USERPAYING while the PIN dialog is open; ``POST /sandbox/counter/recall``
makes the next reverses answer "call again" (v2 ``recall=Y``; v3 a 500 SYSTEM_ERROR) without
doing anything, as WeChat may.
"""

import hashlib
import re
import time

from ..state import DEFAULT_ORDER_LIFETIME, PAID_STATES

AUTH_CODE = re.compile(r"^1[0-5]\d{16}$")
PIN_OVER_FEN = 100000  # over 1,000 yuan WeChat always asks for the PIN
BIG_AMOUNT_PIN_SECONDS = 5.0
REVERSE_WINDOW_SECONDS = 7 * 24 * 3600  # reverse works for 7 days; later, refund

# What the answer to the charge says: a trade state, or an error code (v2 spelling).
PAID, USERPAYING = "SUCCESS", "USERPAYING"


class CounterError(Exception):
    """A business refusal, named by its v2 err_code (each API version words it its way)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def behaviour(auth_code, total, time_scale):
    """(kind, seconds) for the customer behind ``auth_code`` paying ``total`` fen."""
    prefix = auth_code[:4]
    tenths = int(auth_code[4:7]) / 10
    if prefix == "1300":
        return "pin_pays", tenths
    if prefix == "1301":
        return "pin_walks_away", tenths
    kind = {
        "1302": "NOTENOUGH",
        "1303": "AUTHCODEEXPIRE",
        "1304": "AUTH_CODE_INVALID",
        "1305": "SYSTEMERROR",
        "1306": "BANKERROR",
    }.get(prefix, "pays")
    if kind == "pays" and total > PIN_OVER_FEN:
        return "pin_pays", BIG_AMOUNT_PIN_SECONDS * time_scale
    return kind, 0.0


def payer_openid(auth_code):
    """The same customer for the same code: an openid derived from it (the code itself is
    never an identity, and is not kept in the openid)."""
    return "oCounter" + hashlib.sha256(auth_code.encode()).hexdigest()[:20]


def charge(state, order, auth_code):
    """Store a new payment-code order (a dict shaped like the other orders, with no notify_url)
    and play the customer. Returns PAID or USERPAYING; raises CounterError for a refusal (the
    order is kept when WeChat would have one: NOTENOUGH, BANKERROR, SYSTEMERROR)."""
    if not AUTH_CODE.match(auth_code):
        raise CounterError(
            "AUTH_CODE_INVALID",
            "每个二维码仅限使用一次，请刷新再试（18位纯数字，以10、11、12、13、14、15开头）",
        )
    kind, seconds = behaviour(auth_code, order["amount"]["total"], state.config.time_scale)
    if kind == "AUTHCODEEXPIRE":
        raise CounterError("AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试")
    if kind == "AUTH_CODE_INVALID":
        raise CounterError("AUTH_CODE_INVALID", "授权码检验错误")
    now = time.time()
    order.update(
        trade_type="MICROPAY",
        notify_url=None,  # WeChat sends no notification for a payment-code order
        expire_at=now + DEFAULT_ORDER_LIFETIME,
        created_at=now,
        trade_state="NOTPAY",
        transaction_id=None,
        success_time=None,
        paid_at=None,
        payer={"openid": payer_openid(auth_code)},
        counter={"kind": kind, "pin_until": now + seconds, "auth_code": auth_code},
        reverses=[],
    )
    with state.lock:
        state.add_order(order)
        if kind in ("pays", "SYSTEMERROR"):
            state.mark_paid(order)
        elif kind in ("NOTENOUGH", "BANKERROR"):
            order["trade_state"] = "PAYERROR"
        else:
            order["trade_state"] = USERPAYING
    if kind == "NOTENOUGH":
        raise CounterError("NOTENOUGH", "用户余额不足")
    if kind == "SYSTEMERROR":
        raise CounterError("SYSTEMERROR", "系统超时，请立即调用被扫订单结果查询API")
    if kind == "BANKERROR":
        raise CounterError("BANKERROR", "银行系统异常，请立即调用被扫订单结果查询API")
    return order["trade_state"]


def resubmitted(order):
    """The answer to a payment-code order sent again with the same out_trade_no."""
    if order["trade_state"] in PAID_STATES:
        raise CounterError("ORDERPAID", "该订单已支付")
    if order["trade_state"] == "REVOKED":
        raise CounterError("ORDERREVERSED", "订单已撤销")
    if order["trade_state"] == "CLOSED":
        raise CounterError("ORDERCLOSED", "该订单已关闭")
    if order["trade_state"] == USERPAYING:
        return USERPAYING
    raise CounterError("TRADE_ERROR", "交易失败，请更换付款码后重新下单")


def advance(state, order, now=None):
    """Bring a payment-code order up to the clock: the customer who types the PIN has paid once
    the delay has passed. Call under ``state.lock`` before reading the order."""
    counter = order.get("counter")
    if not counter or order["trade_state"] != USERPAYING:
        return
    if counter["kind"] == "pin_pays" and (now or time.time()) >= counter["pin_until"]:
        state.mark_paid(order)


def pin_pending(order, now=None):
    """The customer still has the PIN dialog open."""
    counter = order.get("counter") or {}
    return order["trade_state"] == USERPAYING and (now or time.time()) < counter.get("pin_until", 0)


def reverse(state, order):
    """Reverse (撤销) a payment-code order: close it if unpaid, give the money back if paid.
    Returns "REVOKED" or "RECALL" (call again: nothing was done); raises CounterError
    USERPAYING while the PIN dialog is open. Every call is logged on the order
    (``order["reverses"]``, seen by ``GET /sandbox/orders/...``). Call under ``state.lock``."""
    now = time.time()
    advance(state, order, now)
    if order.get("counter") is None:
        raise CounterError("TRADE_ERROR", "只有付款码支付的订单可以撤销")

    def log(answer):
        order["reverses"].append({"at": now, "answer": answer, "trade_state": order["trade_state"]})

    if pin_pending(order, now):
        log(USERPAYING)
        raise CounterError(USERPAYING, "用户正在支付中，不能发起撤销")
    if now - order["created_at"] > REVERSE_WINDOW_SECONDS:
        log("REVERSE_EXPIRE")
        raise CounterError("REVERSE_EXPIRE", "订单已超过可撤销时间，请使用退款")
    if state.counter["recall"] > 0 and order["trade_state"] != "REVOKED":
        state.counter["recall"] -= 1
        log("RECALL")
        return "RECALL"
    if order["trade_state"] != "REVOKED":
        order["reversed_paid"] = order["trade_state"] in PAID_STATES
        order["trade_state"] = "REVOKED"
        order["revoked_at"] = now
    log("REVOKED")
    return "REVOKED"
