"""A staff account limited to one store (a service provider's console, server/stores.py).

``StaffUser.store`` set: the account sees and acts on that store's orders, refunds and
reconciliation only. Secure by default: such an account may open only the pages listed in
``STORE_PAGES``; every page naming an order, a refund, a refund request, a reconciliation run
or a difference is checked against the store before its view runs, and the lists and figures
are filtered (``limit_orders``: the orders and the refund requests; ``runs_of``, the
overview's ``store_orders``; reconciling a day runs the store's part of the provider's bill
only). The role rules still apply (an operator does no admin's action). Anything else answers
403, and the attempt is written to the audit log as ``store.denied``. An account with no store
(every account of a direct merchant) is unaffected.
"""

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import stores
from ..channels import all_stores, store_named, store_of_order
from ..extensions import db
from ..models import BillDifference, Order, ReconciliationRun, Refund, RefundRequest
from . import audit, bp

# The pages a store's staff may open (each checked or filtered for the store below).
STORE_PAGES = {
    "console.login",
    "console.logout",
    "console.set_language",
    "console.static",
    "console.overview",  # the store's figures (views.overview)
    "console.orders",
    "console.order_detail",
    "console.sync_order",
    "console.close_order",
    "console.refund_order",
    "console.sync_refund",
    "console.apply_abnormal",
    "console.record_shipping",
    "console.sync_shipping",
    "console.refund_requests",  # its orders' requests only (refund_views.refund_requests)
    "console.decide_refund_request",
    "console.export_reconciliation",
    "console.reconcile_day",  # its store's part of the provider's bill only (bills_views)
    "console.resolve_difference",
    "console.reconciliation",
    "console.reconciliation_run",
    "console.reconciliation_csv",
    # The counter: a store's cashier sells for the store (server/cashier.py picks it).
    "console.cashier_page",
    "console.counter_csrf",
    "console.counter_sale",
    "console.counter_sale_state",
    "console.counter_receipt",
    "console.reverse_counter_order",
}


def staff_store():
    """The store the logged-in account is limited to (``stores.Store``), or None."""
    if not current_user.is_authenticated or not getattr(current_user, "store", None):
        return None
    # A store no longer configured still limits the account (to nothing).
    return store_named(current_user.store) or _Gone(current_user.store)


class _Gone:
    def __init__(self, name):
        self.name, self.title, self.sub_mchid = name, name, "-"


@bp.app_template_global("store_of")
def store_of(order):
    """The store an order was placed for (a service provider's), for the order pages."""
    return store_of_order(order)


@bp.app_template_global("store_of_run")
def store_of_run(run):
    """The store whose part of the provider's bill a reconciliation run is, or None (a
    merchant's whole bill: a direct merchant's, or the provider's for all its stores)."""
    return stores.by_sub_mchid(all_stores(), run.mchid)


def limit_orders(query):
    store = staff_store()
    return query if store is None else query.where(Order.sub_mchid == store.sub_mchid)


def runs_of():
    """The merchant whose reconciliation runs the account may see: its store's sub_mchid, or
    None (every run)."""
    store = staff_store()
    return None if store is None else store.sub_mchid


@bp.before_request
def _store_guard():
    store = staff_store()
    if store is None:
        return None
    if request.endpoint not in STORE_PAGES or not _names_own(store, request.view_args or {}):
        audit(
            "store.denied",
            request.path[:128],
            {"store": store.name, "method": request.method},
        )
        return render_template(
            "console/error.html",
            title=_("Not allowed"),
            message=_("This account sees one store's orders only. Nothing was changed."),
        ), 403
    return None


def _names_own(store, args):
    """Whether every order, refund, refund request or run the page names is the store's."""
    if "order_id" in args:
        order = db.session.get(Order, args["order_id"])
        if order is not None and order.sub_mchid != store.sub_mchid:
            return False
    if "request_id" in args:
        asked = db.session.get(RefundRequest, args["request_id"])
        if asked is not None and db.session.get(Order, asked.order_id).sub_mchid != store.sub_mchid:
            return False
    if "refund_id" in args:
        refund = db.session.get(Refund, args["refund_id"])
        if refund is not None and refund.order.sub_mchid != store.sub_mchid:
            return False
    if "diff_id" in args:
        diff = db.session.get(BillDifference, args["diff_id"])
        if diff is not None and diff.run.mchid != store.sub_mchid:
            return False
    if "run_id" in args:
        run = db.session.get(ReconciliationRun, args["run_id"])
        if run is not None and run.mchid != store.sub_mchid:
            return False
    return True
