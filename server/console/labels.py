"""Human names, in the staff member's language, for every state, event and code the console
shows: order, refund, refund-request, shipment and reconciliation states, WeChat's shipping
order_state, payment and shipping events (REFUSED.* and APPLY.FAILED.* included), difference
kinds, audit actions. The code itself stays on the page for developers: in the ``title``
(hover) of the label, and in the event's details.

Each table maps a code to a lazy text (translated when shown); a code the table lacks is shown
as itself, so a new state is never hidden, only untranslated until it is added here.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..domain import bills, shipping
from ..models import Order, ReconciliationRun, Refund, RefundRequest, Shipment

ORDER_STATES = {
    Order.NOTPAY: _l("Unpaid"),
    Order.PAID: _l("Paid"),
    Order.REFUNDED: _l("Refunded in full"),
    Order.CLOSED: _l("Closed"),
    Order.REVOKED: _l("Reversed"),
}
REFUND_STATES = {
    Refund.PENDING: _l("Not yet sent"),
    Refund.PROCESSING: _l("Refunding"),
    Refund.SUCCESS: _l("Refunded"),
    Refund.CLOSED: _l("Refund closed"),
    Refund.ABNORMAL: _l("Could not be paid out"),
    Refund.FAILED: _l("Refused by WeChat"),
}
REQUEST_STATES = {
    RefundRequest.PENDING: _l("Waiting"),
    RefundRequest.APPROVED: _l("Approved"),
    RefundRequest.REJECTED: _l("Rejected"),
}
SHIPMENT_STATES = {
    Shipment.PENDING: _l("To upload"),
    Shipment.UPLOADING: _l("Uploading"),
    Shipment.SHIPPED: _l("Shipped"),
    Shipment.FAILED: _l("Refused by WeChat"),
}
RUN_STATES = {
    ReconciliationRun.CLEAN: _l("Matches"),
    ReconciliationRun.DIFFERENCES: _l("Differences"),
    ReconciliationRun.NO_BILL: _l("No bill"),
    ReconciliationRun.FAILED: _l("Failed"),
}
DIFFERENCE_STATES = {"OPEN": _l("Open"), "RESOLVED": _l("Resolved")}
# WeChat's trade_state (order queries), v2 and v3 alike.
TRADE_STATES = {
    "SUCCESS": _l("paid"),
    "REFUND": _l("paid, with a refund"),
    "NOTPAY": _l("not paid"),
    "CLOSED": _l("closed"),
    "USERPAYING": _l("the payer is entering the password"),
    "PAYERROR": _l("payment failed"),
    "REVOKED": _l("revoked"),
}
STATES = {
    "order": ORDER_STATES,
    "refund": REFUND_STATES,
    "request": REQUEST_STATES,
    "shipment": SHIPMENT_STATES,
    "run": RUN_STATES,
    "difference": DIFFERENCE_STATES,
    "trade": TRADE_STATES,
}
# WeChat's shipping service: order_state 1..6.
WECHAT_SHIPPING_STATES = {
    1: _l("awaiting shipment"),
    2: _l("shipped"),
    3: _l("receipt confirmed"),
    4: _l("completed (settled)"),
    5: _l("refunded"),
    6: _l("awaiting settlement"),
}
assert set(WECHAT_SHIPPING_STATES) == set(shipping.WECHAT_STATES)
LOGISTICS = {
    "express": _l("Express (tracking number)"),
    "local": _l("Local delivery"),
    "virtual": _l("Virtual goods"),
    "pickup": _l("Pickup by the user"),
}
assert set(LOGISTICS) == set(shipping.LOGISTICS_TYPES)
ROLES = {"admin": _l("admin"), "operator": _l("operator"), "cashier": _l("cashier")}
SOURCES = {
    "notify": _l("notification"),
    "query": _l("query"),
    "apply": _l("our request"),
    "upload": _l("upload"),
    "push": _l("WeChat push"),
}

# Why a message from WeChat was refused (REFUSED.<code>): it contradicts our records.
REFUSALS = {
    "ORDER_NOT_FOUND": _l("no such order here"),
    "MERCHANT_MISMATCH": _l("for another appid or merchant"),
    "AMOUNT_MISMATCH": _l("a different amount"),
    "REFUND_NOT_FOUND": _l("no such refund here"),
    "ORDER_MISMATCH": _l("the refund belongs to another order"),
    "REFUND_ID_MISMATCH": _l("another WeChat refund id"),
    "STATUS_CONFLICT": _l("a state that contradicts ours"),
    "TRANSACTION_ID_IN_USE": _l("a WeChat transaction that paid another order"),
    # not a message: a counter order's reverse WeChat does not do (server/domain/counter.py)
    "REVERSE_FAILED": _l(
        "WeChat does not reverse this counter payment (its answer is below): mend the cause; "
        "the reverse is tried again every hour"
    ),
}
# The ways to pay (server/channels.py): the built-in channel names, and WeChat's trade types.
CHANNELS = {
    "miniprogram": _l("Mini program"),
    "counter": _l("Counter"),
    "native": _l("Web shop: QR code"),
    "h5": _l("Web shop: phone browser"),
    "official-account": _l("Web shop: official account"),
    "app": _l("Native app"),
}
TRADE_TYPES = {
    "JSAPI": _l("JSAPI (in WeChat)"),
    "NATIVE": _l("Native (QR code)"),
    "MWEB": _l("H5 (phone browser)"),
    "APP": _l("App"),
    "MICROPAY": _l("Payment code (counter)"),
}
# Why WeChat refused a refund (APPLY.FAILED.<code>, Refund.error_code), and what to do.
REFUND_REFUSALS = {
    "NOT_ENOUGH": _l(
        "The merchant account's balance is too low for this refund: top it up and refund again."
    ),
    "INVALID_REQUEST": _l(
        "WeChat Pay refused the refund as asked (for example more than it has left to refund: "
        "was the order refunded on the merchant platform?)."
    ),
    "TRADE_OVERDUE": _l(
        "The order was paid more than a year ago; WeChat Pay no longer refunds it: give the "
        "money back another way."
    ),
    "USER_ACCOUNT_ABNORMAL": _l(
        "The payer's WeChat account is frozen or closed: give the money back another way."
    ),
    "RULE_LIMIT": _l("WeChat Pay refuses more refunds of this order (at most 50)."),
    "ORDER_NOT_EXIST": _l("WeChat Pay does not know this order."),
    "RESOURCE_NOT_EXISTS": _l("WeChat Pay does not know this order."),
}
# Where an ABNORMAL refund was sent again (ABNORMAL_APPLIED.<type>).
ABNORMAL_TYPES = {
    "USER_BANK_CARD": _l("to the payer's bank card"),
    "MERCHANT_BANK_CARD": _l("to the merchant's bank card"),
}
SHIPPING_PUSHES = {
    "trade_manage_order_settlement": _l("WeChat settled the order"),
    "trade_manage_remind_shipping": _l("WeChat reminds the shop to ship"),
    "trade_manage_remind_access_api": _l("WeChat reminds the shop to use the shipping API"),
}

DIFFERENCE_KINDS = {
    bills.UNKNOWN_PAYMENT: _l("Payment we do not have"),
    bills.MISSED_PAYMENT: _l("Payment we had missed"),
    bills.PAID_NOT_IN_BILL: _l("Paid here, not in the bill"),
    bills.AMOUNT_MISMATCH: _l("Different amounts"),
    bills.TRADE_TYPE_MISMATCH: _l("Different trade types"),
    bills.UNKNOWN_REFUND: _l("Refund we do not have"),
    bills.REFUND_STATUS_MISMATCH: _l("Refund state differs"),
    bills.REFUND_AMOUNT_MISMATCH: _l("Refund amount differs"),
    bills.REFUND_NOT_IN_BILL: _l("Refunded here, not in the bill"),
}
# What each kind of difference means (docs/reconciliation says what to do).
DIFFERENCE_HELP = {
    bills.UNKNOWN_PAYMENT: _l("WeChat took money for an order we do not have."),
    bills.MISSED_PAYMENT: _l("WeChat has it paid and we had it unpaid: it is now applied here."),
    bills.PAID_NOT_IN_BILL: _l("Paid here, but not in WeChat's bills."),
    bills.AMOUNT_MISMATCH: _l("Paid in both, with different amounts."),
    bills.TRADE_TYPE_MISMATCH: _l("Paid in both, under different trade types."),
    bills.UNKNOWN_REFUND: _l("WeChat has a refund we have no record of."),
    bills.REFUND_STATUS_MISMATCH: _l("The refund's state differs."),
    bills.REFUND_AMOUNT_MISMATCH: _l("The refund's amount differs."),
    bills.REFUND_NOT_IN_BILL: _l("Refunded here, but not in WeChat's bills."),
}
REFUND_KINDS = {k for k in DIFFERENCE_KINDS if "REFUND" in k}

ATTENTION_KINDS = {"payment_event": _l("Refused message"), "refund": _l("ABNORMAL refund")}

AUDIT_ACTIONS = {
    "login": _l("Logged in"),
    "login.failed": _l("Failed login"),
    "logout": _l("Logged out"),
    "denied": _l("Refused: not allowed"),
    "store.denied": _l("Refused: another store's"),
    "order.sync": _l("Synced an order with WeChat"),
    "order.close": _l("Closed an order"),
    "order.reverse": _l("Reversed a counter payment"),
    "counter.sale": _l("Took a payment at the counter"),
    "order.refund": _l("Refunded an order"),
    "order.ship": _l("Recorded shipping"),
    "order.shipping_sync": _l("Synced shipping with WeChat"),
    "refund.sync": _l("Synced a refund with WeChat"),
    "refund.apply_abnormal": _l("Sent an ABNORMAL refund again"),
    "refund_request.approve": _l("Approved a refund request"),
    "refund_request.reject": _l("Rejected a refund request"),
    "attention.resolve": _l("Resolved an item needing attention"),
    "bill_difference.resolve": _l("Resolved a reconciliation difference"),
    "bills.reconcile": _l("Reconciled a day"),
    "product.create": _l("Created a product"),
    "product.update": _l("Changed a product"),
    "staff.create": _l("Created a staff account"),
    "staff.disable": _l("Disabled a staff account"),
    "staff.reset_password": _l("Reset a password"),
    "staff.language": _l("Changed the console's language"),
    "export.orders": _l("Exported orders"),
    "export.refunds": _l("Exported refunds"),
    "export.reconciliation": _l("Exported a day's reconciliation"),
    "session.refused": _l("Refused a session used from another browser or network"),
    "session.expired": _l("A session expired"),
    "session.end": _l("Ended a session"),
    "token.create": _l("Made a POS terminal's token"),
    "token.revoke": _l("Revoked a POS terminal's token"),
    "token.refused": _l("Refused a revoked or unusable POS terminal's token"),
    "reauth": _l("Confirmed the password or code again"),
    "reauth.failed": _l("Failed to confirm the password or code"),
    "second_factor.enrol": _l("Set up a second factor"),
    "second_factor.failed": _l("Wrong second-factor code"),
    "second_factor.reset": _l("Reset a second factor"),
    "second_factor.recovery_used": _l("Used a recovery code"),
}
# Keys of an audit entry's details that hold fen.
MONEY_KEYS = {"amount", "price", "total", "left"}
AUDIT_KEYS = {
    "amount": _l("amount"),
    "reason": _l("reason"),
    "note": _l("note"),
    "status": _l("status"),
    "outcome": _l("outcome"),
    "out_trade_no": _l("order number"),
    "out_refund_no": _l("refund number"),
    "price": _l("price"),
    "name": _l("name"),
    "role": _l("role"),
    "before": _l("before"),
    "after": _l("after"),
    "code": _l("code"),
    "kind": _l("kind"),
    "day": _l("day"),
    "rows": _l("rows"),
    "start": _l("from"),
    "end": _l("to"),
    "session": _l("session"),
    "user_agent": _l("browser"),
    "ships": _l("ships"),
    "image": _l("image"),
}


def text(table, code):
    """The label of ``code`` in ``table``, or the code itself."""
    found = table.get(code)
    return str(found) if found is not None else str(code)


def labelled(label, code):
    """``label`` with ``code`` on hover (when they differ)."""
    if str(label) == str(code):
        return Markup('<span class="code">{}</span>').format(code)
    return Markup('<span title="{}">{}</span>').format(code, label)


def state(code, kind="order"):
    return text(STATES[kind], code)


def payment_event(event):
    """What a PaymentEvent was, in words: 'Payment notification: paid', 'Refund refused: ...'."""
    code = event.event_type
    head, _sep, rest = code.partition(".")
    is_refund = bool(event.refund_id) or head in ("REFUND", "APPLY", "ABNORMAL_APPLIED")
    if head == "REFUSED":
        return _("Refused message: %(why)s", why=text(REFUSALS, rest))
    if head == "TRANSACTION":
        return (
            _("Payment notification: paid")
            if rest == "SUCCESS"
            else _("Payment notification: %(state)s", state=text(TRADE_STATES, rest))
        )
    if head == "REFUND":
        return _("Refund notification: %(state)s", state=text(REFUND_STATES, rest))
    if head == "QUERY":
        states = REFUND_STATES if is_refund else TRADE_STATES
        return _("Asked WeChat: %(state)s", state=text(states, rest))
    if head == "APPLY":
        if rest.startswith("FAILED."):
            return _("Refund refused by WeChat (%(code)s)", code=rest.removeprefix("FAILED."))
        return _("Refund sent: %(state)s", state=text(REFUND_STATES, rest))
    if head == "ABNORMAL_APPLIED":
        return _("ABNORMAL refund sent again %(where)s", where=text(ABNORMAL_TYPES, rest))
    return code


def shipping_event(event):
    code = event.event_type
    head, _sep, rest = code.partition(".")
    if code == "UPLOAD.OK":
        return _("Uploaded to WeChat")
    if code == "UPLOAD.UNKNOWN":
        return _("Upload: WeChat did not answer")
    if head == "UPLOAD":
        return _("Upload refused by WeChat (%(code)s)", code=rest)
    if head == "QUERY":
        try:
            return _("Asked WeChat: %(state)s", state=text(WECHAT_SHIPPING_STATES, int(rest)))
        except ValueError:
            return code
    if head == "PUSH":
        return text(SHIPPING_PUSHES, rest)
    return code


def refund_refusal(code):
    return text(REFUND_REFUSALS, code) if code in REFUND_REFUSALS else None


# --- reconciliation texts, written by server/domain/bills.py in English --------------------------

# "PAID 1800 fen", "paid 888 fen at 2026-12-01 10:00:00 (4200...)", "SUCCESS 500 fen at ..."
BILL_SIDE = re.compile(
    r"(?P<state>[A-Za-z_]+) (?P<fen>[0-9]+) fen(?: at (?P<when>[^(]+?))?(?: \((?P<ref>[^)]*)\))?"
)
BILL_DETAILS = [
    (
        re.compile(r"WeChat took this payment; we have no such order"),
        _l("WeChat took this payment; we have no such order."),
    ),
    (re.compile(r"the order was left as it is"), _l("The order was left as it is.")),
    (re.compile(r"the refund was left as it is"), _l("The refund was left as it is.")),
    (
        re.compile(r"not in this day's bill nor its neighbours'"),
        _l("Not in this day's bill, nor in the days before and after."),
    ),
    (
        re.compile(r"WeChat has this refund; we have no record of it"),
        _l("WeChat has this refund; we have no record of it."),
    ),
    (
        re.compile(r"queried WeChat and applied: (?P<outcome>.+)"),
        _l("Asked WeChat and applied its answer: %(outcome)s."),
    ),
    (
        re.compile(r"query failed \((?P<code>[^)]*)\); the next run tries again"),
        _l("Asking WeChat failed (%(code)s); the next run tries again."),
    ),
    (re.compile(r"no longer differs on a later run"), _l("No longer differs on a later run.")),
    (re.compile(r"no fund flow bill for this day"), _l("No fund flow bill for this day.")),
    (
        re.compile(r"fund flow bill not checked: (?P<why>.+)"),
        _l("The fund flow bill was not checked: %(why)s"),
    ),
]
OUTCOMES = {
    "paid": _l("paid"),
    "closed": _l("closed"),
    "unchanged": _l("nothing new"),
    "duplicate": _l("nothing new"),
    "success": _l("refunded"),
    "processing": _l("refunding"),
    "abnormal": _l("could not be paid out"),
    "pending": _l("not yet sent"),
    "failed": _l("refused by WeChat"),
}


def bill_side(value, kind):
    """One side of a difference ('PAID 1800 fen at ...') in words and yuan; the stored text on
    hover. Text it does not recognise is shown as it is."""
    if not value:
        return "—"
    match = BILL_SIDE.fullmatch(value.strip())
    if not match:
        return value
    states = REFUND_STATES if kind in REFUND_KINDS else ORDER_STATES
    code = match["state"].upper()
    code = Order.PAID if code == "SUCCESS" and kind not in REFUND_KINDS else code
    parts = [text(states, code), yuan(int(match["fen"]))]
    if match["when"]:
        parts.append(_("at %(when)s", when=match["when"].strip()))
    if match["ref"]:
        parts.append(f"({match['ref']})")
    return Markup('<span title="{}">{}</span>').format(value, " ".join(parts))


def bill_text(value):
    """A detail or note the reconciliation wrote, in the staff member's language."""
    if not value:
        return ""
    for pattern, message in BILL_DETAILS:
        match = pattern.fullmatch(value.strip())
        if match:
            found = {k: str(OUTCOMES.get(v, v)) for k, v in match.groupdict().items()}
            return Markup('<span title="{}">{}</span>').format(value, str(message) % found)
    return value


# --- money ----------------------------------------------------------------------------------


def yuan(fen):
    """¥1,234.50 for 123450 fen."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def yuan_text(value):
    """A yuan amount given as text with any number of decimals (the bill's fees have five):
    two decimals, rounded half up, the exact value on hover."""
    try:
        exact = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return escape(value)
    rounded = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    shown = f"{'-' if rounded < 0 else ''}¥{abs(rounded):,.2f}"
    if rounded == exact:
        return shown
    return Markup('<span class="exact" title="¥{}">{}</span>').format(value, shown)


def audit_value(key, value):
    """An audit detail's value: money in yuan, nested dicts (before/after) item by item."""
    if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return yuan(value)
    if isinstance(value, dict):
        return Markup("; ").join(
            Markup("{}: {}").format(text(AUDIT_KEYS, k), audit_value(k, v))
            for k, v in value.items()
        )
    if value is None:
        return "—"
    return value
