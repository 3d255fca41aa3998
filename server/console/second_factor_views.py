"""The second factor in the console: the code after the password, enrolment (a QR code drawn
as inline SVG by segno), recovery codes shown once, and an admin's reset of someone's. The
rules are server/domain/second_factor.py's; CONSOLE_ADMIN_TOTP makes admins enrol before
anything else (required in production)."""

import time

import segno
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ..domain import second_factor
from ..domain.audit import record
from ..errors import DomainError
from ..extensions import db
from ..models import StaffUser
from ..ratelimits import console_codes
from . import audit, bp, login_required, messages, role_required, sessions
from .auth import PENDING, _safe_next
from .forms import ActionForm

PENDING_SECONDS = 300
# What an admin who must enrol may still reach.
ENROLMENT_ENDPOINTS = {
    "console.second_factor_page",
    "console.second_factor_start",
    "console.second_factor_confirm",
    "console.logout",
    "console.set_language",
    "console.static",
}


def required_for(user):
    setting = current_app.config["CONSOLE_ADMIN_TOTP"]
    production = current_app.config["APP_ENV"] == "production"
    return user.is_admin and (setting == "required" or (setting == "" and production))


@bp.before_request
def _enrol_first():
    """An admin who must have a second factor and has none: enrolment, nothing else."""
    if (
        current_user.is_authenticated
        and not current_user.totp_secret
        and request.endpoint not in ENROLMENT_ENDPOINTS
        and required_for(current_user)
    ):
        flash(_("Set up a second factor before using the console."), "info")
        return redirect(url_for("console.second_factor_page"))
    return None


def _pending_user():
    pending = session.get(PENDING) or {}
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(StaffUser, pending.get("staff", 0))
    return user if user is not None and user.active and user.totp_secret else None


@bp.route("/login/code", methods=["GET", "POST"])
@console_codes
def login_code():
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash(_("Log in again."), "info")
        return redirect(url_for("console.login"))
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            how = second_factor.verify(
                user, request.form.get("code", ""), **sessions.lockout_settings()
            )
        except DomainError as exc:
            db.session.rollback()
            record(
                user.email, "second_factor.failed", None, {"code": exc.code}, request.remote_addr
            )
            flash(messages.describe(exc), "error")
            return render_template("console/login_code.html", form=form), 401
        sessions.begin(user)
        record(user.email, "login", None, {"second_factor": how}, request.remote_addr)
        if how == second_factor.RECOVERY:
            record(user.email, "second_factor.recovery_used", None, {}, request.remote_addr)
            flash(
                _(
                    "You used a recovery code; %(left)s are left.",
                    left=second_factor.recovery_codes_left(user),
                ),
                "info",
            )
        return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login_code.html", form=form)


@bp.get("/second-factor")
@login_required
def second_factor_page():
    qr = secret = None
    if not current_user.totp_secret and current_user.totp_pending:
        secret = current_user.totp_pending
        uri = second_factor.provisioning_uri(current_user, secret)
        qr = Markup(segno.make(uri, error="m").svg_inline(scale=5))  # segno's own markup
    return render_template(
        "console/second_factor.html",
        qr=qr,
        secret=secret,
        left=second_factor.recovery_codes_left(current_user) if current_user.totp_secret else 0,
        required=required_for(current_user),
        form=ActionForm(),
    )


@bp.post("/second-factor/start")
@login_required
@sessions.fresh_auth_required
def second_factor_start():
    if ActionForm().validate_on_submit() and not current_user.totp_secret:
        second_factor.begin(current_user)
    return redirect(url_for("console.second_factor_page"))


@bp.post("/second-factor/confirm")
@console_codes
@login_required
def second_factor_confirm():
    if not ActionForm().validate_on_submit() or current_user.totp_secret:
        return redirect(url_for("console.second_factor_page"))
    try:
        codes = second_factor.confirm(current_user, request.form.get("code", ""))
    except DomainError as exc:
        db.session.rollback()
        flash(messages.describe(exc), "error")
        return redirect(url_for("console.second_factor_page"))
    audit("second_factor.enrol", f"staff:{current_user.email}")
    # The codes are shown this once: never stored in clear, never in a cookie.
    return render_template("console/recovery_codes.html", codes=codes)


@bp.post("/staff/<int(max=2147483647):staff_id>/reset-second-factor")
@role_required("admin")
@sessions.fresh_auth_required
def reset_second_factor(staff_id):
    user = db.session.get(StaffUser, staff_id)
    if user is not None and ActionForm().validate_on_submit():
        second_factor.reset(user)
        audit("second_factor.reset", f"staff:{user.email}")
        flash(
            _(
                "%(email)s's second factor is removed; they log in with the password only.",
                email=user.email,
            ),
            "success",
        )
    return redirect(url_for("console.staff_page"))
