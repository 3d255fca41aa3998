"""The counter wired into the app: the loop's timing from the settings, the process's bounded
pool of loops, and each order's gateway. The console's cashier page, the POS endpoint and the
job call these; the rules are ``domain/counter.py``'s (docs/counter.md)."""

from flask import current_app

from . import channels
from .domain import counter
from .domain.jobs import exclusive

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
        context=channels.checkout_context(CHANNEL),
    )
    if created:
        start(payment.id, auth_code=auth_code.strip())
    return payment, created


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
