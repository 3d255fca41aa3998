"""Logging in and out. Failed logins are rate-limited per address (Flask-Limiter) and counted
per account, which locks for a while after CONSOLE_LOCKOUT_FAILURES in a row."""

import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..domain import staff
from ..domain.audit import record
from ..errors import DomainError
from ..ratelimits import console_logins
from . import bp, i18n, login_required, refused, sessions
from .forms import ActionForm, LoginForm

# A password checked, its code not yet: who, and when (the signed cookie; five minutes).
PENDING = "second_factor_pending"


@bp.route("/login", methods=["GET", "POST"])
@console_logins
def login():
    if current_user.is_authenticated:
        return redirect(url_for("console.overview"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = staff.authenticate(
                form.email.data,
                form.password.data,
                max_failures=int(current_app.config["CONSOLE_LOCKOUT_FAILURES"]),
                lockout=timedelta(minutes=int(current_app.config["CONSOLE_LOCKOUT_MINUTES"])),
            )
        except DomainError as exc:
            refused(exc)
            record(
                form.email.data.strip().lower()[:255],
                "login.failed",
                None,
                {"code": exc.code},
                request.remote_addr,
            )
            return render_template("console/login.html", form=form), 401
        if user.totp_secret:  # the password was right; now the code (second_factor_views.py)
            session.clear()
            session[PENDING] = {"staff": user.id, "at": int(time.time())}
            return redirect(url_for("console.login_code", next=request.args.get("next")))
        sessions.begin(user)
        record(user.email, "login", None, {}, request.remote_addr)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html", form=form)


def _safe_next(target):
    """Only a path inside the console: never another site (an open redirect)."""
    if (
        target
        and target.startswith("/console/")
        and not urlsplit(target).netloc
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return url_for("console.overview")


@bp.post("/logout")
@login_required
def logout():
    if ActionForm().validate_on_submit():
        record(current_user.email, "logout", None, {}, request.remote_addr)
        sessions.end_current()
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("console.login"))


@bp.post("/language")
def set_language():
    """The language switch: the staff member's own setting once logged in, else (the login
    page) this browser's session. Back to the page it was used on."""
    form = ActionForm()
    language = request.form.get("language")
    if form.validate_on_submit() and language in i18n.LANGUAGES:
        if current_user.is_authenticated:
            staff.set_language(current_user, language)
        else:
            session[i18n.SESSION_KEY] = language
    return redirect(_safe_next(request.form.get("next")))
