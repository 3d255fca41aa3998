"""The console's refund pages: refund an order (with a confirmation step), decide users' refund
requests, and sync refunds with WeChat. Every change goes through ``server.domain.refunds``, the
same functions as the CLI and the API; the console only asks, shows and records who did it."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..channels import all_stores, payment_context
from ..domain import refunds
from ..errors import DomainError
from ..extensions import db
from ..models import Order, Refund, RefundRequest, User
from ..wechatpay.core.errors import ApiError, Unsupported, WeChatPayError
from . import audit, bp, labels, login_required, messages, refused, role_required
from .forms import (
    ABNORMAL_TYPES,
    AbnormalRefundForm,
    DecideRequestForm,
    RefundForm,
    fen_to_yuan,
    yuan_to_fen,
)
from .sessions import fresh_auth_required
from .store_access import limit_orders, staff_store
from .views import _order_or_404, of_store_named

# What a person should read after asking WeChat for a refund, by the refund's state.
REFUND_OUTCOMES = {
    Refund.SUCCESS: ("success", _l("Refunded: WeChat Pay has returned the money.")),
    Refund.PROCESSING: (
        "success",
        _l(
            "WeChat Pay accepted the refund; it is on its way to the "
            "payer (usually minutes, up to a few days for bank cards)."
        ),
    ),
    Refund.PENDING: (
        "error",
        _l(
            "WeChat Pay did not answer. The refund is saved and will be sent "
            "again with the same number (never twice): sync it, or the "
            "periodic payments sync will."
        ),
    ),
    Refund.ABNORMAL: (
        "error",
        _l("WeChat Pay could not pay it into the payer's account: it is under Needs attention."),
    ),
    Refund.CLOSED: ("error", _l("WeChat Pay closed the refund; nothing was returned.")),
    Refund.FAILED: ("error", _l("WeChat Pay refused the refund.")),
}


def _flash_refund(refund_row):
    category, message = REFUND_OUTCOMES[refund_row.status]
    message = str(message)
    if refund_row.status == Refund.FAILED and refund_row.error_code:
        why = labels.refund_refusal(refund_row.error_code) or refund_row.error_message
        message = _("%(outcome)s %(why)s", outcome=message, why=why)
    flash(message, category)


def _context_or_flash(order):
    """The order's gateway and refund notify URL (``channels.payment_context``), or None with
    a message when its merchant's settings are not here."""
    try:
        return payment_context(order)
    except DomainError as exc:  # PAYMENTS_NOT_CONFIGURED
        refused(exc, _("Payments are not configured here"))
        return None


@bp.route("/orders/<int(max=2147483647):order_id>/refund", methods=["GET", "POST"])
@role_required("admin")
@fresh_auth_required
def refund_order(order_id):
    """GET: the form, prefilled with what is left. POST: the confirmation page. POST with
    ``confirmed``: the refund."""
    order = _order_or_404(order_id)
    left = refunds.refundable(order)
    if left <= 0:
        flash(
            _(
                "Nothing is left to refund on this order (%(state)s).",
                state=labels.state(order.status),
            ),
            "error",
        )
        return redirect(url_for("console.order_detail", order_id=order.id))
    form = RefundForm()
    if request.method == "GET":
        form.amount.data = fen_to_yuan(left)
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template("console/refund.html", order=order, form=form, left=left), status
    amount = form.amount.fen
    if amount > left:
        form.amount.errors.append(
            _("At most %(amount)s yuan is left to refund.", amount=fen_to_yuan(left))
        )
        return render_template("console/refund.html", order=order, form=form, left=left), 400
    if not form.confirmed.data or not form.out_refund_no.data:
        # The refund's number is chosen now and carried by the confirmation page, so the same
        # decision submitted twice (a double click, a resubmit after an error) is one refund.
        form.out_refund_no.data = refunds.new_out_refund_no()
        return render_template(
            "console/refund.html", order=order, form=form, left=left, confirming=amount
        )
    if (context := _context_or_flash(order)) is None:
        return redirect(url_for("console.order_detail", order_id=order.id))
    try:
        refund_row = refunds.refund(
            order,
            amount,
            form.reason.data.strip(),
            current_user.email,
            gateway=context.gateway,
            notify_url=context.refund_notify_url,
            out_refund_no=form.out_refund_no.data or None,
        )
    except DomainError as exc:  # shown at the amount, as the form's other refusals are
        form.amount.errors.append(messages.describe(exc))
        return render_template(
            "console/refund.html", order=order, form=form, left=refunds.refundable(order)
        ), 400
    audit(
        "order.refund",
        f"order:{order.id}",
        {
            "amount": amount,
            "reason": refund_row.reason,
            "out_refund_no": refund_row.out_refund_no,
            "status": refund_row.status,
        },
    )
    _flash_refund(refund_row)
    return redirect(url_for("console.order_detail", order_id=order.id) + "#refunds")


@bp.post("/refunds/<int(max=2147483647):refund_id>/sync")
@login_required
def sync_refund(refund_id):
    refund_row = db.session.get(Refund, refund_id) or abort(404)
    outcome = "failed"
    if (context := _context_or_flash(db.session.get(Order, refund_row.order_id))) is not None:
        try:
            outcome = refunds.sync_refund(
                refund_row, gateway=context.gateway, notify_url=context.refund_notify_url
            )
            flash(
                _(
                    "Synced with WeChat: the refund is %(state)s.",
                    state=labels.text(labels.OUTCOMES, outcome),
                ),
                "success",
            )
        except refunds.RefundMismatch as exc:
            db.session.rollback()
            flash(
                _(
                    "WeChat's answer contradicts this refund (%(reason)s); it is recorded.",
                    reason=labels.text(labels.REFUSALS, exc.code),
                ),
                "error",
            )
        except ApiError as exc:
            db.session.rollback()
            flash(
                _(
                    "Could not sync: WeChat Pay answered %(code)s (%(message)s).",
                    code=exc.code,
                    message=exc.message,
                ),
                "error",
            )
        except WeChatPayError:
            db.session.rollback()
            flash(_("Could not sync: WeChat Pay did not answer; try again shortly."), "error")
    audit(
        "refund.sync",
        f"refund:{refund_id}",
        {"out_refund_no": refund_row.out_refund_no, "outcome": outcome},
    )
    if request.form.get("back") == "attention":
        return redirect(url_for("console.attention_page"))
    return redirect(url_for("console.order_detail", order_id=refund_row.order_id) + "#refunds")


@bp.get("/refund-requests")
@login_required
def refund_requests():
    """The requests of a status; a store's staff sees its store's only, an admin of every
    store may pick one (?store=tea), as on the orders list."""
    status = request.args.get("status", RefundRequest.PENDING)
    query = limit_orders(
        db.select(RefundRequest, Order, User)
        .join(Order, Order.id == RefundRequest.order_id)
        .outerjoin(User, User.id == RefundRequest.user_id)  # a web-shop guest has none
    )
    if status in (RefundRequest.PENDING, RefundRequest.APPROVED, RefundRequest.REJECTED):
        query = query.where(RefundRequest.status == status)
    store = request.args.get("store", "")[:26]
    query = of_store_named(query, store)
    rows = db.session.execute(query.order_by(RefundRequest.id.desc()).limit(200)).all()
    left = {order.id: refunds.refundable(order) for _, order, _ in rows}
    return render_template(
        "console/refund_requests.html",
        rows=rows,
        status=status,
        left=left,
        form=DecideRequestForm(),
        fen_to_yuan=fen_to_yuan,
        stores=[] if staff_store() else all_stores(),  # a store's staff sees its own anyway
        store=store,
    )


@bp.post("/refund-requests/<int(max=2147483647):request_id>/<any(approve, reject):decision>")
@role_required("admin")
@fresh_auth_required
def decide_refund_request(request_id, decision):
    """Reject (with a note the user sees), or approve: refund the amount typed, in yuan, or
    all that is left on the order when it is left blank."""
    form = DecideRequestForm()
    note = (form.note.data or "").strip()
    back = redirect(url_for("console.refund_requests") + f"#request-{request_id}")
    if not form.validate():
        flash(_("The note is at most 200 characters."), "error")
        return back
    if decision == "reject" and not note:
        flash(_("Say why the request is rejected: the user sees the note."), "error")
        return back
    try:
        if decision == "approve":
            amount = None
            if (form.amount.data or "").strip():
                try:
                    amount = yuan_to_fen(form.amount.data)
                except ValueError as exc:
                    flash(str(exc), "error")
                    return back
            refund_row = refunds.approve_request(
                request_id, current_user.email, note, context_for=payment_context, amount=amount
            )
            details = {
                "note": note,
                "amount": refund_row.amount,
                "out_refund_no": refund_row.out_refund_no,
                "status": refund_row.status,
            }
            _flash_refund(refund_row)
        else:
            refunds.reject_request(request_id, current_user.email, note)
            details = {"note": note}
            flash(_("Rejected; the user sees your note."), "success")
    except DomainError as exc:
        refused(exc, _("Not done"))
        return back
    audit(f"refund_request.{decision}", f"refund_request:{request_id}", details)
    return redirect(url_for("console.refund_requests"))


@bp.route("/refunds/<int(max=2147483647):refund_id>/apply-abnormal", methods=["GET", "POST"])
@role_required("admin")
@fresh_auth_required
def apply_abnormal(refund_id):
    """Send a refund WeChat could not pay out (ABNORMAL) again, to a bank card (API v3; v2
    merchants do it on the merchant platform). The card number and the holder's name go to
    WeChat encrypted and nowhere else: not the audit log, not the logs, not the page."""
    refund_row = db.session.get(Refund, refund_id) or abort(404)
    order = db.session.get(Order, refund_row.order_id)
    form = AbnormalRefundForm()
    if refund_row.status != Refund.ABNORMAL:
        flash(
            _(
                "Only a refund WeChat could not pay out (ABNORMAL) can be sent again; this one "
                "is %(state)s.",
                state=labels.state(refund_row.status, "refund"),
            ),
            "error",
        )
        return redirect(url_for("console.order_detail", order_id=order.id) + "#refunds")
    if not form.validate_on_submit():
        form.forget()
        status = 400 if form.errors else 200
        return render_template(
            "console/apply_abnormal.html",
            refund=refund_row,
            order=order,
            form=form,
            abnormal_types=ABNORMAL_TYPES,
        ), status
    if (context := _context_or_flash(order)) is None:
        return redirect(url_for("console.attention_page") + "#abnormal")
    outcome = "failed"
    try:
        refund_row = refunds.apply_abnormal_refund(
            refund_row,
            form.type.data,
            current_user.email,
            gateway=context.gateway,
            **form.bank_details(),
        )
        outcome = refund_row.status
        flash(
            _(
                "Sent again %(where)s: the refund is %(state)s.",
                where=labels.text(labels.ABNORMAL_TYPES, form.type.data),
                state=labels.state(refund_row.status, "refund"),
            ),
            "success",
        )
    except Unsupported:
        db.session.rollback()
        flash(
            _(
                "This merchant's API version (v2) cannot send a refund again: do it on the "
                "merchant platform (pay.weixin.qq.com)."
            ),
            "error",
        )
    except DomainError as exc:
        refused(exc, _("Not sent"))
    except ApiError as exc:
        db.session.rollback()
        flash(
            _(
                "Not sent: WeChat Pay answered %(code)s (%(message)s).",
                code=exc.code,
                message=exc.message,
            ),
            "error",
        )
    except WeChatPayError:
        db.session.rollback()
        flash(_("Not sent: WeChat Pay did not answer. Sync the refund, then try again."), "error")
    form.forget()
    audit(  # where it went, never the card number or the name
        "refund.apply_abnormal",
        f"refund:{refund_row.id}",
        {"out_refund_no": refund_row.out_refund_no, "type": form.type.data, "outcome": outcome},
    )
    return redirect(url_for("console.order_detail", order_id=order.id) + "#refunds")
