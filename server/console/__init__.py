"""The staff console: server-rendered pages under /console/ for the shop's staff.

Sessions are kept on the server (server/console/sessions.py): the signed cookie (HttpOnly,
SameSite=Lax, Secure in production) carries a random token; each request checks its row.
Money actions also need a recent password or code (``fresh_auth_required``). Every POST carries
a CSRF token (Flask-WTF), checked before anything else runs. Operators view and sync; admins
also change money and the catalogue (``role_required("admin")``). Actions call the same domain
functions as the CLI and the API, and each is written to the audit log. A refusal (a DomainError)
is shown one way, ``refused``: its message on the next page; nothing was changed.
"""

from datetime import timedelta
from functools import wraps

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from ..domain.audit import record
from ..errors import DomainError, status_for
from ..extensions import csrf, db, login_manager
from ..wechatpay.checks import encodes_as_utf8
from . import i18n, labels, messages

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)

__all__ = ["bp", "init_app", "login_required", "role_required", "audit", "refused"]


def init_app(app):
    production = app.config["APP_ENV"] == "production"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=int(app.config["CONSOLE_SESSION_SECONDS"])),
        # The console checks CSRF itself (below); the JSON API and WeChat's callbacks carry no
        # cookies, so a site-wide check would only refuse them.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the session; an expired session fails the check anyway.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = ConsoleOnlySessions()
    i18n.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = _l("Please log in.")
    login_manager.localize_callback = str  # the lazy text, in the language of the request
    login_manager.login_message_category = "info"
    # Sessions are rows checked on every request (sessions.py): tied to the browser and the
    # network they were made in. Flask-Login's own protection is off (it cannot do that).
    login_manager.session_protection = None
    csrf.init_app(app)  # the login rate limit is server/ratelimits.py's, like the API's
    from . import (  # noqa: F401
        auth,
        bills_views,
        counter_views,
        exports,
        pos_tokens,
        refund_views,
        second_factor_views,
        sessions,
        shipping_views,
        store_access,
        views,
    )

    login_manager.user_loader(sessions.load_user)

    app.register_blueprint(bp)


class ConsoleOnlySessions(SecureCookieSessionInterface):
    """Cookie sessions under /console/ only. The API authenticates with bearer tokens and
    WeChat's callbacks carry no cookies: they get no session (opening one costs a signing
    serializer on every request, a tenth of a notification's CPU), and writing to one fails."""

    # The web shop's pages keep a guest's cart and orders in the session too (server/web).
    PREFIXES = (bp.url_prefix + "/", "/shop/")

    def open_session(self, app, request):
        # A POS terminal's token (pos_tokens.py) is the whole of its request's identity.
        if request.path.startswith(self.PREFIXES) and not pos_tokens.presented(request):
            return super().open_session(app, request)
        return self.make_null_session(app)


# Views that take a file, and how big a body they read (the file and the form around it).
UPLOAD_LIMITS = {"console.edit_product": 5 * 1024 * 1024 + 64 * 1024}


@bp.before_request
def _guard():
    """Refuse before any view runs: an unauthenticated POST, then a bad CSRF token. A POS
    terminal's token is checked instead (no cookie, so no CSRF token: pos_tokens.py)."""
    if pos_tokens.presented(request):
        return pos_tokens.guard()
    if request.endpoint in UPLOAD_LIMITS:  # before the form is read: the API's 64 KiB is small
        request.max_content_length = UPLOAD_LIMITS[request.endpoint]
    if (
        request.method == "POST"
        and request.endpoint not in ("console.login", "console.login_code", "console.set_language")
        and not current_user.is_authenticated
    ):
        flash(_("Your session has ended. Log in again; nothing was changed."), "error")
        return redirect(url_for("console.login"))
    if request.method == "POST":
        csrf.protect()
        if not encodes_as_utf8(list(request.form.values())):
            # NUL or broken Unicode: no column can store it (PostgreSQL refuses NUL).
            return render_template(
                "console/error.html",
                title=_("Bad input"),
                message=_("The form has characters that cannot be stored. Nothing was changed."),
            ), 400


def role_required(role):
    """Only staff with ``role`` (admins may do everything); others get 403, nothing changes."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role != role and not current_user.is_admin:
                audit("denied", request.path, {"needs": role, "method": request.method})
                return render_template(
                    "console/error.html",
                    title=_("Not allowed"),
                    message=_(
                        "This needs the %(role)s role. Nothing was changed.",
                        role=labels.text(labels.ROLES, role),
                    ),
                    code="FORBIDDEN",
                ), 403
            return view(*args, **kwargs)

        return wrapped

    return decorate


@bp.errorhandler(CSRFError)
def _csrf_error(exc):
    return render_template(
        "console/error.html",
        title=_("Form expired"),
        message=_(
            "The form was missing its security token or it had expired. "
            "Nothing was changed; reload the page and try again."
        ),
    ), 400


def refused(exc, doing=None):
    """Show a DomainError: its text (by code, in the staff member's language), after ``doing``
    (what was tried, translated) when given, flashed for the next page. The transaction is
    rolled back: nothing of the refused action stays."""
    db.session.rollback()
    text = messages.describe(exc)
    flash(_("%(doing)s: %(text)s", doing=doing, text=text) if doing else text, "error")


@bp.errorhandler(DomainError)
def _refused_elsewhere(exc):
    """A refusal no view showed itself: a page saying so, with the status of its code."""
    db.session.rollback()
    status = status_for(exc.code)
    if status == 404:
        return _not_found(exc)
    return render_template(
        "console/error.html",
        title=_("Not done"),
        message=_("%(text)s Nothing was changed.", text=messages.describe(exc)),
    ), status


@bp.errorhandler(404)
def _not_found(exc):
    return render_template(
        "console/error.html", title=_("Not found"), message=_("There is nothing at this address.")
    ), 404


@bp.get("/<path:unknown>")
def _nowhere(unknown):
    """Any other address under /console/: the console's own Not found page (Flask gives a
    blueprint's error handlers only the requests that matched one of its routes)."""
    return _not_found(None)


@bp.errorhandler(429)
def _too_many(exc):
    return render_template(
        "console/error.html",
        title=_("Too many attempts"),
        message=_("Too many login attempts from this address. Wait a minute and try again."),
    ), 429


def audit(action, target=None, details=None):
    """Record a staff action by the logged-in user, from the address the request came from."""
    record(current_user.email, action, target, details, request.remote_addr)


from . import pos_tokens  # noqa: E402 (it needs what this module defines above)
