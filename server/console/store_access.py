"""A staff account limited to one store (a service provider's console, server/stores.py).

``StaffUser.store`` set: the account sees and acts on that store's orders, refunds and
reconciliation only. Secure by default: such an account may open only the pages listed in
``STORE_PAGES``; every page naming an order, a refund or a reconciliation run is checked
against the store before its view runs, and the lists are filtered (``limit_orders``,
``limit_runs``). Anything else answers 403, and the attempt is written to the audit log as
``store.denied``. An account with no store (every account of a direct merchant) is unaffected.
"""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..channels import store_named, store_of_order
from ..extensions import db
from ..models import Order, ReconciliationRun, Refund
from . import audit, bp

# The pages a store's staff may open (each checked or filtered for the store below).
STORE_PAGES = {
    "console.login",
    "console.logout",
    "console.set_language",
    "console.static",
    "console.overview",  # redirected to the store's orders
    "console.orders",
    "console.order_detail",
    "console.sync_order",
    "console.refund_order",
    "console.sync_refund",
    "console.record_shipping",
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


def limit_orders(query):
    store = staff_store()
    return query if store is None else query.where(Order.sub_mchid == store.sub_mchid)


def limit_runs(runs):
    store = staff_store()
    return runs if store is None else [run for run in runs if run.mchid == store.sub_mchid]


@bp.before_request
def _store_guard():
    store = staff_store()
    if store is None:
        return None
    if request.endpoint == "console.overview":
        return redirect(url_for("console.orders"))
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
    """Whether every order, refund or run the page names is the store's."""
    if "order_id" in args:
        order = db.session.get(Order, args["order_id"])
        if order is not None and order.sub_mchid != store.sub_mchid:
            return False
    if "refund_id" in args:
        refund = db.session.get(Refund, args["refund_id"])
        if refund is not None and refund.order.sub_mchid != store.sub_mchid:
            return False
    if "run_id" in args:
        run = db.session.get(ReconciliationRun, args["run_id"])
        if run is not None and run.mchid != store.sub_mchid:
            return False
    return True
