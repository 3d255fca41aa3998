"""The order page's shipping actions: record what was shipped (WeChat takes a first upload and
one change) and sync with WeChat's shipping service. Both go through ``server.domain.shipping``, the
same functions as ``flask shipping`` and the job; the console asks, shows and records who."""

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..clients import miniprogram_api
from ..domain import shipping
from ..errors import DomainError
from ..extensions import db
from ..models import Shipment
from ..wechatpay.core.errors import ApiError, TransportError
from . import audit, bp, labels, login_required, messages, role_required
from .forms import ShippingForm
from .views import _order_or_404, render_order

UPLOAD_OUTCOMES = {
    Shipment.SHIPPED: ("success", _l("Shipping recorded, and WeChat has it.")),
    Shipment.PENDING: (
        "error",
        _l(
            "Shipping recorded; WeChat did not take it yet. The shipping "
            "job uploads it again (never as a second change)."
        ),
    ),
    Shipment.UPLOADING: (
        "error",
        _l(
            "Shipping recorded; its upload to WeChat is still under "
            "way. Sync in a minute to see whether WeChat has it."
        ),
    ),
    Shipment.FAILED: ("error", _l("Shipping recorded, but WeChat refused it")),
}


def _packages(form):
    """The parcels as ``shipping.record_shipment`` takes them: one per filled express row."""
    common = {
        "item_desc": form.item_desc.data,
        "receiver_contact": (form.receiver_contact.data or "").strip() or None,
        "consignor_contact": (form.consignor_contact.data or "").strip() or None,
    }
    if form.logistics.data != "express":
        return [common]
    rows = [
        row.form
        for row in form.parcels
        if (row.form.tracking_no.data or "").strip()
        or (row.form.express_company.data or "").strip()
    ]
    # No row filled: one empty parcel, so the domain names the missing tracking number.
    return [
        {
            **common,
            "tracking_no": row.tracking_no.data or "",
            "express_company": row.express_company.data or "",
        }
        for row in rows
    ] or [{**common, "tracking_no": "", "express_company": ""}]


@bp.post("/orders/<int(max=2147483647):order_id>/shipping")
@role_required("admin")
def record_shipping(order_id):
    order = _order_or_404(order_id)
    if order.status != order.PAID:
        flash(
            _(
                "Only a paid order can be shipped; this one is %(state)s.",
                state=labels.state(order.status),
            ),
            "error",
        )
        return redirect(url_for("console.order_detail", order_id=order.id))
    form = ShippingForm()
    if not form.validate_on_submit():
        return render_order(order, shipping_form=form), 400
    packages = _packages(form)
    try:
        shipment = shipping.record_shipment(
            order,
            api=miniprogram_api(),
            logistics=form.logistics.data,
            packages=packages,
            by=f"staff:{current_user.email}",
            all_delivered=form.all_delivered.data,
        )
    except DomainError as exc:  # shown in the form, which keeps what was typed
        form.logistics.errors = [*form.logistics.errors, _form_error(exc)]
        return render_order(order, shipping_form=form), 400
    except (ApiError, TransportError) as exc:  # the access token could not be had
        db.session.rollback()
        flash(
            _(
                "Could not reach WeChat's shipping service (%(code)s). Reload the order "
                "to see what was recorded, and try again shortly.",
                code=exc.code,
            ),
            "error",
        )
        return redirect(url_for("console.order_detail", order_id=order.id) + "#shipping")
    audit(
        "order.ship",
        f"order:{order.id}",
        {
            "logistics": form.logistics.data,
            "parcels": len(packages),
            "status": shipment.status,
            "upload_count": shipment.upload_count,
            "all_delivered": form.all_delivered.data,
        },
    )
    category, message = UPLOAD_OUTCOMES[shipment.status]
    message = str(message)
    if shipment.error_message:
        message = f"{message}: {shipment.error_message} ({shipment.error_code})"
    flash(message, category)
    return redirect(url_for("console.order_detail", order_id=order.id) + "#shipping")


def _form_error(exc):
    return _("Not recorded: %(why)s", why=messages.describe(exc))


@bp.post("/orders/<int(max=2147483647):order_id>/shipping/sync")
@login_required
def sync_shipping(order_id):
    order = _order_or_404(order_id)
    outcome = "failed"
    if not order.transaction_id:
        flash(_("The order is not paid: WeChat has no shipping for it."), "error")
    else:
        try:
            wechat = shipping.refresh(order, api=miniprogram_api())
            state = wechat.get("order_state")
            outcome = shipping.WECHAT_STATES.get(state, f"state {state}")
            flash(
                _(
                    "Synced with WeChat: the order is %(state)s.",
                    state=labels.text(labels.WECHAT_SHIPPING_STATES, state),
                ),
                "success",
            )
        except (ApiError, TransportError) as exc:
            db.session.rollback()
            flash(
                _(
                    "Could not sync: WeChat answered %(code)s (%(message)s).",
                    code=exc.code,
                    message=exc.message,
                ),
                "error",
            )
    audit("order.shipping_sync", f"order:{order.id}", {"outcome": outcome})
    return redirect(url_for("console.order_detail", order_id=order.id) + "#shipping")
