"""The console's second factor through Flask's test client, on SQLite and PostgreSQL:
enrolment, login with a code, recovery codes (once each), codes used once, rate limits and the
lockout, an admin's reset (console and CLI), money actions asking for a code, and admins made
to enrol where CONSOLE_ADMIN_TOTP requires it. Codes are computed with pyotp, like an app."""

import re
import time
from datetime import timedelta

import pyotp

from server.extensions import db
from server.models import AuditLog, Product, RecoveryCode, StaffSession, StaffUser
from server.timeutil import as_utc, utcnow
from tests.support.console import ADMIN, OPERATOR, ConsoleClient

SECRET = re.compile(r"data-totp-secret>([A-Z2-7]+)<")
CODES = re.compile(r"<li>([0-9A-F]{5}-[0-9A-F]{5}-[0-9A-F]{5}-[0-9A-F]{5})</li>")


def enrol(client):
    """Set up a second factor as a person does: its secret and the recovery codes shown."""
    client.post("/console/second-factor/start", token=client.token("/console/second-factor"))
    page = client.get("/console/second-factor").text
    assert "<svg" in page  # the QR code, inline
    secret = SECRET.search(page).group(1)
    shown = client.post(
        "/console/second-factor/confirm",
        {"code": pyotp.TOTP(secret).now()},
        token=client.token("/console/second-factor"),
    )
    assert shown.status_code == 200, shown.text
    codes = CODES.findall(shown.text)
    assert len(codes) == 10
    return secret, codes


def a_new_code(secret):
    """The next step's code (each step's code is accepted once; the next is accepted early)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(time.time()) + 1)


def send_code(client, code):
    token = client.token("/console/login/code")
    return client.post("/console/login/code", {"code": code}, token=token)


def log_in_with_code(app, email, code):
    client = ConsoleClient(app)
    first = client.login(email)
    assert first.status_code == 302 and "/console/login/code" in first.location
    return client, send_code(client, code)


def user(app, email):
    with app.app_context():
        found = db.session.execute(db.select(StaffUser).where(StaffUser.email == email)).scalar()
        db.session.expunge_all()
        return found


def actions(app):
    with app.app_context():
        return [a.action for a in db.session.execute(db.select(AuditLog)).scalars()]


def test_enrolment_then_login_asks_for_the_code(app, operator):
    assert 'data-second-factor="off"' in operator.get("/console/second-factor").text
    secret, codes = enrol(operator)
    stored = user(app, OPERATOR)
    assert stored.totp_secret == secret and stored.totp_pending is None
    with app.app_context():
        hashes = db.session.execute(db.select(RecoveryCode.code_hash)).scalars().all()
    assert len(hashes) == 10 and not any(code.replace("-", "") in hashes for code in codes)
    assert "second_factor.enrol" in actions(app)
    # The password alone no longer logs in: the code page, and no session yet.
    client = ConsoleClient(app)
    client.login(OPERATOR)
    assert client.get("/console/").status_code == 302
    bad = send_code(client, "000000")
    assert bad.status_code == 401 and "not right" in bad.text
    answer = send_code(client, a_new_code(secret))
    assert answer.status_code == 302 and client.get("/console/").status_code == 200
    # The same code does not work twice.
    _, again = log_in_with_code(app, OPERATOR, a_new_code(secret))
    assert again.status_code == 401


def test_a_wrong_code_at_enrolment_turns_nothing_on(app, operator):
    operator.post("/console/second-factor/start")
    operator.post("/console/second-factor/confirm", {"code": "123456"})
    assert user(app, OPERATOR).totp_secret is None


def test_a_recovery_code_works_once(app, operator):
    _, codes = enrol(operator)
    client, answer = log_in_with_code(app, OPERATOR, codes[0].lower())
    assert answer.status_code == 302
    home = client.get("/console/")
    assert home.status_code == 200 and "9 are left" in home.text
    _, again = log_in_with_code(app, OPERATOR, codes[0])
    assert again.status_code == 401
    assert "second_factor.recovery_used" in actions(app)


def test_bad_codes_are_rate_limited_and_lock_the_account(make_app):
    app = make_app(CONSOLE_CODE_RATE_LIMIT="6 per minute")  # enrolment's code is one of them
    operator = ConsoleClient(app)
    operator.login(OPERATOR)
    enrol(operator)
    client = ConsoleClient(app)
    client.login(OPERATOR)
    answers = [send_code(client, "000000") for _ in range(6)]
    assert [a.status_code for a in answers[:4]] == [401] * 4
    assert "Too many failed logins" in answers[4].text  # CONSOLE_LOCKOUT_FAILURES: 5
    assert answers[5].status_code == 429  # the seventh code from this address in a minute
    assert as_utc(user(app, OPERATOR).locked_until) is not None


def test_money_actions_ask_for_the_code_once_enrolled(app, admin):
    secret, _ = enrol(admin)
    with app.app_context():
        db.session.execute(db.update(StaffSession).values(fresh_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    form = {"name": "Coffee", "price": "0.50", "active": "y"}
    asked = admin.post("/console/catalogue/1", form)
    assert 'name="reauth_code"' in asked.text and 'name="reauth_password"' not in asked.text
    done = admin.post("/console/catalogue/1", {**form, "reauth_code": a_new_code(secret)})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.get(Product, 1).price == 50


def test_an_admin_resets_a_lost_second_factor(app, admin, operator):
    enrol(operator)
    assert "Reset second factor" in admin.get("/console/staff").text
    staff_id = user(app, OPERATOR).id
    assert operator.post(f"/console/staff/{staff_id}/reset-second-factor").status_code == 403
    admin.post(f"/console/staff/{staff_id}/reset-second-factor")
    assert user(app, OPERATOR).totp_secret is None
    assert operator.get("/console/").status_code == 302  # their sessions ended
    assert ConsoleClient(app).login(OPERATOR).location.endswith("/console/")
    with app.app_context():
        entry = db.session.execute(
            db.select(AuditLog).where(AuditLog.action == "second_factor.reset")
        ).scalar()
        assert entry.actor == ADMIN and entry.target == f"staff:{OPERATOR}"


def test_the_cli_resets_a_second_factor(app, operator):
    enrol(operator)
    result = app.test_cli_runner().invoke(args=["staff", "reset-second-factor", OPERATOR])
    assert result.exit_code == 0, result.output
    assert user(app, OPERATOR).totp_secret is None
    assert "second_factor.reset" in actions(app)
    missing = app.test_cli_runner().invoke(args=["staff", "reset-second-factor", "x@shop.test"])
    assert missing.exit_code != 0


def test_admins_must_enrol_where_required(make_app):
    app = make_app(CONSOLE_ADMIN_TOTP="required")
    admin, operator = ConsoleClient(app), ConsoleClient(app)
    admin.login(ADMIN)
    operator.login(OPERATOR)
    assert operator.get("/console/").status_code == 200  # optional for operators
    answer = admin.get("/console/orders")
    assert answer.status_code == 302 and answer.location.endswith("/console/second-factor")
    enrol(admin)
    assert admin.get("/console/orders").status_code == 200


def test_the_right_password_does_not_wipe_out_wrong_codes(app, operator):
    secret, _ = enrol(operator)
    for _ in range(2):
        client = ConsoleClient(app)
        client.login(OPERATOR)
        assert send_code(client, "000000").status_code == 401
    assert user(app, OPERATOR).failed_logins == 2
    answer = ConsoleClient(app).login(OPERATOR, code=a_new_code(secret))  # the fixtures' way
    assert answer.status_code == 302 and answer.location.endswith("/console/")
    assert user(app, OPERATOR).failed_logins == 0
