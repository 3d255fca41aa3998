"""The cashier (docs/counter.md): the cashier page, its JSON endpoint (also the POS terminal's),
the receipt, and an admin's reverse of a paid counter order.

Cashiers (and admins) take payments: ``POST /console/api/counter/sales`` creates the sale and
returns at once; the loop runs in the background and the page polls
``GET /console/api/counter/sales/<order_id>``. Both use the console's session and, for the POST,
its CSRF token in ``X-CSRFToken`` (``GET /console/api/counter/csrf`` gives it to a terminal).
"""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import cashier
from ..domain import counter
from ..errors import DomainError, status_for
from ..extensions import db
from ..models import CounterPayment, Order, Product
from ..models.staff import ADMIN, CASHIER
from . import audit, bp, labels, login_required, messages, refused, role_required
from .forms import ActionForm
from .pos_tokens import current_token
from .sessions import fresh_auth_required
from .store_access import staff_store

# What the cashier reads for each state of the loop, and for each reason a payment ended.
STATE_TEXTS = {
    CounterPayment.CHARGING: _l("Sending to WeChat…"),
    CounterPayment.UNKNOWN: _l("Checking the result with WeChat…"),
    CounterPayment.PAYING: _l("Waiting for the customer to enter their PIN…"),
    CounterPayment.REVERSING: _l("Cancelling the payment with WeChat…"),
    CounterPayment.SUCCESS: _l("Paid"),
    CounterPayment.CLOSED: _l("Not paid"),
    CounterPayment.REVOKED: _l("Reversed: nothing was taken"),
}
REASON_TEXTS = {
    "NOT_ENOUGH": _l("Balance not enough: ask the customer to pay another way."),
    "NOTENOUGH": _l("Balance not enough: ask the customer to pay another way."),
    "AUTHCODEEXPIRE": _l("The code has expired: ask the customer to refresh it and scan again."),
    "AUTH_CODE_INVALID": _l("WeChat did not accept this code: ask for a fresh code."),
    "AUTH_CODE_ERROR": _l("WeChat did not accept this code: ask for a fresh code."),
    "NOTSUPORTCARD": _l("WeChat does not accept the customer's card here: ask for another card."),
    "ACCOUNT_ERROR": _l("WeChat refused the customer's account: ask them to pay another way."),
    "BANKERROR": _l("The customer's bank refused the payment: ask them to pay another way."),
    "BANK_ERROR": _l("The customer's bank refused the payment: ask them to pay another way."),
    "PAYERROR": _l("The payment failed: ask the customer to pay another way."),
    "PIN_TIMEOUT": _l("The customer did not enter the PIN in time: the payment was cancelled."),
    "NO_ANSWER": _l("WeChat gave no result in time: the payment was cancelled."),
    "NOT_SENT": _l("The payment was interrupted before it was sent: scan a fresh code."),
    "STAFF_REVERSED": _l("Reversed by staff: the money went back to the customer."),
    "TRADE_ERROR": _l("WeChat refused the payment: ask the customer to pay another way."),
}


def _may_take_payments():
    return current_user.is_authenticated and current_user.role in (CASHIER, ADMIN)


def sale_json(payment):
    order = payment.order
    reason = REASON_TEXTS.get(payment.reason) if payment.reason else None
    return {
        "order_id": order.id,
        "out_trade_no": order.out_trade_no,
        "total": order.total,
        "total_text": labels.yuan(order.total),
        "order_status": order.status,
        "state": payment.state,
        "final": payment.state in CounterPayment.FINAL,
        "reason": payment.reason,
        "message": str(STATE_TEXTS[payment.state]),
        "reason_text": str(reason) if reason else None,
        "auth_code_tail": payment.auth_code_tail,
        "receipt_url": url_for("console.counter_receipt", order_id=order.id),
        "order_url": url_for("console.order_detail", order_id=order.id),
    }


def _json_error(code, message, status=None):
    return jsonify({"error": {"code": code, "message": message}}), status or status_for(code)


@bp.get("/counter")
@role_required(CASHIER)
def cashier_page():
    query = db.select(Product).where(Product.active.is_(True)).order_by(Product.id)
    if (store := staff_store()) is not None:  # a provider's store's cashier: its products
        query = query.where(Product.store == store.name)
    products = db.session.execute(query).scalars().all()
    return render_template("console/counter.html", products=products)


@bp.get("/api/counter/csrf")
@login_required
def counter_csrf():
    return jsonify({"csrf_token": generate_csrf()})


@bp.post("/api/counter/sales")
@login_required
def counter_sale():
    if not _may_take_payments():
        audit("denied", request.path, {"needs": CASHIER, "method": "POST"})
        return _json_error("FORBIDDEN", "only cashiers and admins take payments", 403)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _json_error("INVALID_REQUEST", "send a JSON object")
    lines = None
    if data.get("items"):
        items = data["items"]
        if not isinstance(items, list) or not all(
            isinstance(i, dict)
            and isinstance(i.get("product_id"), int)
            and isinstance(i.get("quantity"), int)
            and not isinstance(i.get("quantity"), bool)
            and 0 < i["quantity"] <= 99
            and 0 < i["product_id"] < 2**31
            for i in items
        ):
            return _json_error("INVALID_REQUEST", "items: [{product_id, quantity 1-99}]")
        lines = [(i["product_id"], i["quantity"]) for i in items]
    try:
        payment, created = cashier.submit(
            auth_code=data.get("auth_code"),
            lines=lines,
            amount=None if lines else data.get("amount"),
            staff_id=current_user.id,
            client_ip=request.remote_addr,
        )
    except DomainError as exc:
        db.session.rollback()
        return _json_error(exc.code, str(messages.describe(exc)))
    if created:
        details = {"out_trade_no": payment.order.out_trade_no, "total": payment.order.total}
        if token := current_token():
            details["token"] = token.id  # a POS terminal's (docs/counter.md)
        audit("counter.sale", f"order:{payment.order_id}", details)
    return jsonify({"sale": sale_json(payment)}), 201 if created else 200


@bp.get("/api/counter/sales/<int(max=2147483647):order_id>")
@login_required
def counter_sale_state(order_id):
    payment = counter.for_order(order_id)
    if payment is None:
        return _json_error("ORDER_NOT_FOUND", "no counter sale with this id")
    return jsonify({"sale": sale_json(payment)})


@bp.get("/counter/receipt/<int(max=2147483647):order_id>")
@login_required
def counter_receipt(order_id):
    payment = counter.for_order(order_id) or abort(404)
    paper = "a4" if request.args.get("paper") == "a4" else "80mm"
    return render_template(
        "console/receipt.html",
        payment=payment,
        order=payment.order,
        paper=paper,
        state_text=STATE_TEXTS[payment.state],
    )


@bp.route("/orders/<int(max=2147483647):order_id>/reverse", methods=["GET", "POST"])
@role_required(ADMIN)
@fresh_auth_required
def reverse_counter_order(order_id):
    """Reverse (撤销) a paid counter order within WeChat's 7 days: the money goes back. An
    admin's action, after a confirmation page."""
    order = db.session.get(Order, order_id) or abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        return render_template("console/reverse.html", order=order, form=form)
    try:
        cashier.reverse_paid(order)
    except DomainError as exc:
        refused(exc, _("Reverse"))
        return redirect(url_for("console.order_detail", order_id=order.id))
    audit("order.reverse", f"order:{order.id}", {"out_trade_no": order.out_trade_no})
    flash(_("Reversing with WeChat: the money goes back to the customer."), "success")
    return redirect(url_for("console.order_detail", order_id=order.id))
