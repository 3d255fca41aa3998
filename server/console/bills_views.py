"""The console's Reconciliation pages: each Beijing day's run of ``server.domain.bills`` (our totals
against WeChat's bill), its differences, resolving one with a note, the bill as CSV, and
running a day again. The same functions as ``flask bills``; the console asks, shows and
records who did it."""

from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..channels import is_provider, merchant_gateways, payment_context
from ..domain import bills
from ..domain.jobs import exclusive
from ..errors import DomainError
from ..extensions import db
from ..models import BillDifference
from ..wechatpay.core.errors import BillNotReady, WeChatPayError
from . import audit, bp, labels, login_required, refused, role_required
from .forms import NoteForm, ReconcileForm
from .sessions import fresh_auth_required
from .store_access import runs_of, staff_store

# What each kind of difference means, in words (docs/reconciliation.md says what to do).
DIFFERENCE_KINDS = labels.DIFFERENCE_HELP


def _run_or_404(run_id):
    try:
        return bills.get_run(run_id)
    except DomainError:  # RUN_NOT_FOUND
        abort(404)


@bp.get("/reconciliation")
@login_required
def reconciliation():
    today = bills.beijing_today()
    form = ReconcileForm(formdata=None, day=today - timedelta(days=1))
    runs = bills.list_runs(mchid=runs_of())  # a store's staff: its store's runs only
    open_counts = {}
    for diff in bills.open_differences():
        open_counts[diff.run_id] = open_counts.get(diff.run_id, 0) + 1
    return render_template(
        "console/reconciliation.html",
        runs=runs,
        open_counts=open_counts,
        form=form,
        today=today,
        provider=is_provider(),
    )


@bp.get("/reconciliation/<int(max=2147483647):run_id>")
@login_required
def reconciliation_run(run_id):
    run = _run_or_404(run_id)
    return render_template(
        "console/reconciliation_run.html",
        run=run,
        differences=bills.run_differences(run.id),
        kinds=DIFFERENCE_KINDS,
        form=NoteForm(),
        rerun=ReconcileForm(formdata=None, day=run.day),
    )


@bp.get("/reconciliation/<int(max=2147483647):run_id>/bill.csv")
@login_required
def reconciliation_csv(run_id):
    run = _run_or_404(run_id)
    try:
        text = bills.bill_csv(run.id)
    except DomainError as exc:
        refused(exc, _("No CSV"))
        return redirect(url_for("console.reconciliation_run", run_id=run.id))
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=tradebill-{run.day.isoformat()}.csv"
        },
    )


@bp.post("/reconciliation/differences/<int(max=2147483647):diff_id>/resolve")
@role_required("admin")
@fresh_auth_required
def resolve_difference(diff_id):
    form = NoteForm()
    back = request.form.get("back") == "attention"
    note = (form.note.data or "").strip()
    try:
        diff = bills.resolve_difference(diff_id, current_user.email, note)
    except DomainError as exc:
        if exc.code == "DIFFERENCE_NOT_FOUND":
            abort(404)
        refused(exc)  # no note, or resolved by someone else meanwhile
        diff = None
    else:
        audit(
            "bill_difference.resolve",
            f"bill_difference:{diff.id}",
            {"kind": diff.kind, "day": diff.run.day.isoformat(), "note": diff.note},
        )
        flash(_("Resolved."), "success")
    if back:
        return redirect(url_for("console.attention_page") + "#differences")
    run_id = diff.run_id if diff else db.session.get(BillDifference, diff_id).run_id
    return redirect(url_for("console.reconciliation_run", run_id=run_id))


@bp.post("/reconciliation/run")
@role_required("admin")
def reconcile_day():
    form = ReconcileForm()
    if not form.validate_on_submit():
        flash(_("Pick a Beijing day to reconcile."), "error")
        return redirect(url_for("console.reconciliation"))
    day = form.day.data
    if day > bills.beijing_today():
        flash(_("That day has not happened yet in Beijing."), "error")
        return redirect(url_for("console.reconciliation"))
    store = staff_store()  # a store's staff: its store's part of the bill, nothing else
    outcome, run = _reconcile(day, store)
    audit(
        "bills.reconcile",
        f"day:{day.isoformat()}",
        {"outcome": outcome, **({"store": store.name} if store else {})},
    )
    if run is None:
        run = next((r for r in bills.list_runs(mchid=runs_of()) if r.day == day), None)
    if run is None:
        return redirect(url_for("console.reconciliation"))
    return redirect(url_for("console.reconciliation_run", run_id=run.id))


def _reconcile(day, store=None):
    """(outcome, the first merchant's run or None), with a flashed message per merchant saying
    what happened: each merchant the channels collect for has its own bill. ``store``: only
    that store's part of the provider's bill (its sub_mchid)."""
    try:
        merchants = merchant_gateways()
    except DomainError as exc:  # PAYMENTS_NOT_CONFIGURED
        refused(exc, _("Payments are not configured here"))
        return "not_configured", None
    if store is not None:
        merchants = [(mchid, gw) for mchid, gw in merchants if mchid == store.sub_mchid]
        if not merchants:  # the store's channel has no gateway (or the store is gone)
            flash(_("Payments are not configured for this store."), "error")
            return "not_configured", None
    with exclusive("bills-reconcile") as ours:
        if not ours:  # the daily timer is running: never two at once
            flash(_("Another reconciliation is running; try again in a minute."), "error")
            return "busy", None
        several = len(merchants) > 1
        done = [
            _reconcile_merchant(day, gw, _("Merchant %(mchid)s: ", mchid=mchid) if several else "")
            for mchid, gw in merchants
        ]
    outcome = ",".join(outcome for outcome, _run in done)
    return outcome, next((run for _outcome, run in done if run is not None), None)


def _reconcile_merchant(day, gw, of):
    try:
        run = bills.reconcile(
            day, gateway=gw, gateway_for=lambda order: payment_context(order).gateway
        )
    except BillNotReady:
        flash(
            of
            + _(
                "WeChat has not made the bill of %(day)s yet (from about 10:00 the next day, "
                "Beijing time); try later.",
                day=day,
            ),
            "error",
        )
        return "not_ready", None
    except DomainError as exc:
        refused(exc, of + _("The bill of %(day)s was refused, nothing of it kept", day=day))
        return exc.code, None
    except WeChatPayError as exc:
        db.session.rollback()
        flash(
            of
            + _(
                "Could not get the bill of %(day)s from WeChat Pay (%(code)s); nothing of it "
                "was kept. Try again shortly.",
                day=day,
                code=exc.code,
            ),
            "error",
        )
        return exc.code, None
    flash(
        of
        + _(
            "Reconciled %(day)s: %(outcome)s.",
            day=day,
            outcome=labels.state(run.status, "run"),
        ),
        "success" if run.status == "CLEAN" else "info",
    )
    return run.status, run
