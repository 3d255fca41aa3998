"""POS terminals' API tokens (server/domain/staff_tokens.py; docs/counter.md): the console's
check of a request that carries one, and the admin's page that makes and revokes them.

A request with ``Authorization: Bearer ...`` under /console/ has no cookie session
(``ConsoleOnlySessions``) and needs no CSRF token (a browser never adds that header by
itself); Flask-Login's request loader below makes the token's cashier the current user, and
``guard`` (first in the console's ``_guard``) answers JSON: 401 TOKEN_INVALID or
TOKEN_REVOKED, 429 RATE_LIMITED once an address has failed too often (the logins' limit), 403
TOKEN_NOT_ALLOWED for any page but the counter's JSON endpoints (``ENDPOINTS``).
"""

from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import staff_tokens
from ..domain.audit import record
from ..errors import DomainError, status_for
from ..extensions import db, login_manager
from ..models import StaffUser
from ..models.staff import CASHIER
from ..ratelimits import failed_tokens
from . import audit, bp, refused, role_required
from .forms import ActionForm
from .sessions import fresh_auth_required

# What a token may reach: a sale, and its state.
ENDPOINTS = {"console.counter_sale", "console.counter_sale_state"}
SCHEME = "Bearer "


def presented(req):
    return req.headers.get("Authorization", "").startswith(SCHEME)


def _json(code, message, status=None):
    return jsonify({"error": {"code": code, "message": message}}), status or status_for(code)


def _authenticate():
    """(token row, staff account) or the DomainError refusing the token; once per request."""
    if "pos_token" not in g:
        try:
            g.pos_token = staff_tokens.authenticate(request.headers["Authorization"][len(SCHEME) :])
        except DomainError as exc:  # nothing was written
            g.pos_token = exc
    return g.pos_token


@login_manager.request_loader
def _load_from_token(req):
    # The console's only: elsewhere a bearer token is the API's (a customer's), not a staff one.
    if req.blueprint != bp.name or not presented(req):
        return None
    found = _authenticate()
    return None if isinstance(found, DomainError) else found[1]


def guard():
    """None when the token may reach this endpoint; otherwise the JSON refusal."""
    if failed_tokens():
        return _json("RATE_LIMITED", "too many failed tokens from this address: wait a minute")
    found = _authenticate()
    if isinstance(found, DomainError):
        failed_tokens(count=True)
        row = found.extra.get("token")
        if row is not None:
            user = db.session.get(StaffUser, row.staff_id)
            record(
                user.email,
                "token.refused",
                f"token:{row.id}",
                {"code": found.code, "path": request.path[:120]},
                request.remote_addr,
            )
        return _json(found.code, found.message)
    if request.endpoint not in ENDPOINTS:
        audit("denied", request.path[:128], {"token": found[0].id, "method": request.method})
        return _json("TOKEN_NOT_ALLOWED", "a terminal's token reaches the counter's sales only")
    return None


def current_token():
    """The token row of this request, or None (a browser's session)."""
    found = g.get("pos_token")
    return None if found is None or isinstance(found, DomainError) else found[0]


# --- the admin's page ---------------------------------------------------------------------------


def _page(new=None, status=200):
    cashiers = (
        db.session.execute(
            db.select(StaffUser)
            .where(StaffUser.role == CASHIER, StaffUser.active.is_(True))
            .order_by(StaffUser.email)
        )
        .scalars()
        .all()
    )
    response = render_template(
        "console/tokens.html",
        rows=staff_tokens.listed(),
        cashiers=cashiers,
        new=new,
        form=ActionForm(),
    )
    # The new token is on this page once: not for any cache.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
@role_required("admin")
def tokens_page():
    return _page()


@bp.post("/tokens")
@role_required("admin")
@fresh_auth_required
def create_token():
    if not ActionForm().validate_on_submit():
        return _page(status=400)
    try:
        staff_id = int(request.form.get("staff_id", ""))
    except ValueError:
        staff_id = 0
    try:
        row, token = staff_tokens.create(
            staff_id if 0 < staff_id < 2**31 else 0,
            request.form.get("name"),
            current_user.email,
        )
    except DomainError as exc:
        refused(exc, _("New token"))
        return _page(status=status_for(exc.code))
    owner = db.session.get(StaffUser, row.staff_id)
    audit("token.create", f"token:{row.id}", {"name": row.name, "staff": owner.email})
    # Shown this once: never stored in clear, never in a cookie or a flash message.
    return _page(new={"token": token, "row": row, "owner": owner})


@bp.post("/tokens/<int(max=2147483647):token_id>/revoke")
@role_required("admin")
def revoke_token(token_id):
    if ActionForm().validate_on_submit() and staff_tokens.revoke(token_id, current_user.email):
        audit("token.revoke", f"token:{token_id}")
        flash(_("The token is revoked: its terminal can no longer take payments."), "success")
    return redirect(url_for("console.tokens_page"))
