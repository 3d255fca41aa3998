"""The console's server-side sessions (server/domain/staff_sessions.py) and fresh
authentication for money actions.

Flask-Login keeps the session's random token in the signed cookie (its ``_user_id``); the
loader below turns it into the staff member after checking the session's row on every request.
Flask-Login's own "strong" protection is not used: with a permanent session it only marks a
copied cookie not fresh, and nothing required freshness.

``fresh_auth_required`` guards a view's POSTs: unless the password (or a second-factor code,
once enrolled) was typed in this session within CONSOLE_FRESH_MINUTES, it answers a page that
asks for it, carrying the form's fields; that page posts them back to the same address with the
password, and the view then runs with the original form.
"""

from datetime import timedelta
from functools import wraps

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import second_factor, staff, staff_sessions
from ..domain.audit import record
from ..errors import DomainError
from ..extensions import db
from ..models import StaffUser
from . import audit, bp, login_required, messages, role_required
from .forms import ActionForm

SESSION_KEY = "_user_id"  # Flask-Login's key; it holds the session's token
REAUTH_FIELDS = ("reauth_password", "reauth_code")

# The audit log's words for an end.
MISMATCHES = (staff_sessions.USER_AGENT, staff_sessions.ADDRESS)


def _settings():
    config = current_app.config
    return {
        "max_age": timedelta(hours=int(config["CONSOLE_SESSION_MAX_HOURS"])),
        "idle": timedelta(seconds=int(config["CONSOLE_SESSION_SECONDS"])),
        "ipv4_prefix": int(config["CONSOLE_SESSION_IPV4_PREFIX"]),
        "ipv6_prefix": int(config["CONSOLE_SESSION_IPV6_PREFIX"]),
    }


def _user_agent():
    return request.headers.get("User-Agent", "")


def load_user(token):
    """Flask-Login's user loader: the staff member of a valid session, else None (and the
    session, if it was open, ended and audited)."""
    row = staff_sessions.find(token)
    if row is None:
        session.pop(SESSION_KEY, None)
        return None
    user = db.session.get(StaffUser, row.staff_id)
    reason = staff_sessions.problem(row, _user_agent(), request.remote_addr, **_settings())
    if reason is None and not user.active:
        reason = staff_sessions.DISABLED
    if reason is not None:
        if row.ended_at is None and staff_sessions.end(row.id, reason):
            action = "session.refused" if reason in MISMATCHES else "session.expired"
            details = {"reason": reason, "session": row.id}
            if reason == staff_sessions.USER_AGENT:
                details["user_agent"] = _user_agent()[:120]
            record(user.email, action, f"staff:{user.email}", details, request.remote_addr)
        session.pop(SESSION_KEY, None)
        return None
    staff_sessions.touch(row)
    g.staff_session = row
    return user


def begin(user):
    """Log ``user`` in: a new session row, its token in a new cookie session."""
    session.clear()  # a fresh cookie session (and CSRF token) for the logged-in user
    session.permanent = True  # the cookie also expires after CONSOLE_SESSION_SECONDS idle
    token = staff_sessions.start(user, _user_agent(), request.remote_addr)
    session[SESSION_KEY] = token
    session["_fresh"] = True


def end_current(reason=staff_sessions.LOGOUT):
    row = g.get("staff_session")
    if row is not None:
        staff_sessions.end(row.id, reason)
    session.clear()


def current_session():
    return g.get("staff_session")


def check_secret(user, form):
    """Whether ``form`` holds the staff member's password (their second-factor code once
    enrolled). Failures count towards the account's lockout. Raises DomainError."""
    if user.totp_secret:
        second_factor.verify(user, form.get("reauth_code", ""), **lockout_settings())
        return
    staff.authenticate(user.email, form.get("reauth_password", ""), **lockout_settings())


def lockout_settings():
    config = current_app.config
    return {
        "max_failures": int(config["CONSOLE_LOCKOUT_FAILURES"]),
        "lockout": timedelta(minutes=int(config["CONSOLE_LOCKOUT_MINUTES"])),
    }


def fresh_auth_required(view):
    """Only after a recent password or code (CONSOLE_FRESH_MINUTES) may this view's POSTs run.
    Goes under ``login_required``/``role_required``. GETs (showing a form) are not guarded."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        row = current_session()
        window = timedelta(minutes=int(current_app.config["CONSOLE_FRESH_MINUTES"]))
        if request.method != "POST":
            return view(*args, **kwargs)
        if row is None:  # no checked session (never under login_required): refuse, not allow
            return redirect(url_for("console.login"))
        if staff_sessions.is_fresh(row, window):
            return view(*args, **kwargs)
        status = 200
        if any(name in request.form for name in REAUTH_FIELDS):
            try:
                check_secret(current_user, request.form)
            except DomainError as exc:
                db.session.rollback()
                audit("reauth.failed", request.path, {"code": exc.code})
                flash(messages.describe(exc), "error")
                status = 401
            else:
                staff_sessions.mark_fresh(row)
                audit("reauth", request.path)
                return view(*args, **kwargs)
        carried = [
            (name, value)
            for name, values in request.form.lists()
            if name not in ("csrf_token", *REAUTH_FIELDS)
            for value in values
        ]
        return render_template(
            "console/reauth.html",
            carried=carried,
            action=request.full_path.rstrip("?"),
            uses_code=bool(current_user.totp_secret),
        ), status

    return wrapped


# "Your sessions", and an admin's view of everyone's.


def _visible(rows):
    """Open rows that a request could still use (not past their age or idle limits)."""
    settings = _settings()
    return [
        (row, user)
        for row, user in rows
        if staff_sessions.problem(
            row, row.user_agent, row.address, **{**settings, "ipv4_prefix": 0, "ipv6_prefix": 0}
        )
        is None
    ]


@bp.get("/sessions")
@login_required
def my_sessions():
    rows = _visible(staff_sessions.open_sessions(current_user.id))
    return render_template(
        "console/sessions.html",
        rows=rows,
        current=current_session().id,
        masked=staff_sessions.masked_address,
        form=ActionForm(),
    )


@bp.post("/sessions/<int(max=2147483647):session_id>/end")
@login_required
def end_my_session(session_id):
    if ActionForm().validate_on_submit() and staff_sessions.end(
        session_id, staff_sessions.ENDED_BY_STAFF, staff_id=current_user.id
    ):
        audit("session.end", f"staff:{current_user.email}", {"session": session_id})
        flash(_("The session has ended: that browser is logged out."), "success")
    if session_id == current_session().id:
        session.clear()
        return redirect(url_for("console.login"))
    return redirect(url_for("console.my_sessions"))


@bp.get("/staff")
@role_required("admin")
def staff_page():
    users = db.session.execute(db.select(StaffUser).order_by(StaffUser.email)).scalars().all()
    return render_template(
        "console/staff.html",
        users=users,
        rows=_visible(staff_sessions.open_sessions()),
        current=current_session().id,
        masked=staff_sessions.masked_address,
        form=ActionForm(),
    )


@bp.post("/staff/sessions/<int(max=2147483647):session_id>/end")
@role_required("admin")
@fresh_auth_required
def end_staff_session(session_id):
    from ..models import StaffSession

    row = db.session.get(StaffSession, session_id)
    if (
        row is not None
        and ActionForm().validate_on_submit()
        and staff_sessions.end(session_id, staff_sessions.ENDED_BY_STAFF)
    ):
        owner = db.session.get(StaffUser, row.staff_id)
        audit("session.end", f"staff:{owner.email}", {"session": session_id})
        flash(_("The session has ended: that browser is logged out."), "success")
    return redirect(url_for("console.staff_page"))
