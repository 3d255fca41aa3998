"""The counter wired into the app: the loop's timing from the settings, the process's bounded
pool of loops, and each order's gateway. The console's cashier page, the POS endpoint and the
job call these; the rules are ``domain/counter.py``'s (docs/counter.md)."""

from flask import current_app

from . import channels
from .domain import counter
from .domain.jobs import exclusive
from .errors import DomainError
from .extensions import db
from .models import StaffUser

CHANNEL = "counter"


def init_app(app):
    app.extensions["counter"] = counter.Runner(int(app.config["COUNTER_WORKERS"]))


def timing():
    config = current_app.config
    return counter.Timing(
        poll=float(config["COUNTER_POLL_SECONDS"]),
        pin_timeout=float(config["COUNTER_PIN_TIMEOUT_SECONDS"]),
        reverse_after=float(config["COUNTER_REVERSE_AFTER_SECONDS"]),
        lease=float(config["COUNTER_LEASE_SECONDS"]),
        reverse_attempts=int(config["COUNTER_REVERSE_ATTEMPTS"]),
    )


def gateway_of(order):
    return channels.payment_context(order).gateway


def submit(*, auth_code, lines=None, amount=None, staff_id=None, client_ip=None):
    """A sale paid by a payment code: the order now, the loop in the background."""
    payment, created = counter.submit(
        auth_code=auth_code,
        lines=lines,
        amount=amount,
        staff_id=staff_id,
        client_ip=client_ip,
        context=channels.checkout_context(CHANNEL, store(staff_id, lines)),
    )
    if created:
        start(payment.id, auth_code=auth_code.strip())
    return payment, created


def store(staff_id, lines):
    """The store a counter sale is for in a service provider's deployment (None if direct):
    the cashier's (``staff_users.store``), the one selling the products rung up, or the only
    store. A cashier limited to a store cannot sell another's products (PRODUCT_NOT_FOUND); a
    typed amount by an unlimited cashier among several stores is STORE_REQUIRED."""
    if not channels.is_provider():
        return None
    staff = db.session.get(StaffUser, staff_id) if staff_id else None
    own = channels.store_named(staff.store) if staff and staff.store else None
    if lines:
        found = channels.store_of(lines)
        if own is not None and found != own:
            raise DomainError("PRODUCT_NOT_FOUND", f"these products are not {own.name}'s")
        return found
    if own is not None:
        return own
    every = channels.all_stores()
    if len(every) != 1:
        raise DomainError(
            "STORE_REQUIRED", "a typed amount is one store's: ring up its products instead"
        )
    return every[0]


def start(payment_id, auth_code=None):
    app = current_app._get_current_object()
    return app.extensions["counter"].start(
        payment_id,
        auth_code=auth_code,
        context=app.app_context,
        gateway_of=gateway_of,
        timing=timing(),
    )


def reverse_paid(order):
    payment = counter.reverse_paid(order)
    start(payment.id)
    return payment


def sweep(concurrency=4, deadline=180):
    """The job: finish every loop left open. None when another instance runs it."""
    with exclusive("counter") as ours:
        if not ours:
            return None
        return counter.sweep(
            gateway_of=gateway_of,
            timing=timing(),
            context=current_app._get_current_object().app_context,
            concurrency=concurrency,
            deadline=deadline,
        )
