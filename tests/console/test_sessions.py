"""Staff sessions kept on the server, through Flask's test client on SQLite and PostgreSQL: a
copied cookie used from another browser or network is refused (and the session ended, once,
audited), sessions expire, logout / a new password / a disabled account end them, "Your
sessions" ends one, and money actions need a recent password. Chromium's tests of the same are
in test_browser_security.py."""

from datetime import timedelta

from server.domain import staff
from server.extensions import db
from server.models import AuditLog, Product, StaffSession, StaffUser
from server.timeutil import as_utc, utcnow
from tests.support.concurrency import at_once
from tests.support.console import ADMIN, OPERATOR, PASSWORD, ConsoleClient

OTHER_BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def sessions(app, email=None):
    with app.app_context():
        query = db.select(StaffSession).order_by(StaffSession.id)
        if email:
            query = query.join(StaffUser, StaffUser.id == StaffSession.staff_id).where(
                StaffUser.email == email
            )
        found = db.session.execute(query).scalars().all()
        db.session.expunge_all()
        return found


def audits(app, action):
    with app.app_context():
        found = (
            db.session.execute(db.select(AuditLog).where(AuditLog.action == action)).scalars().all()
        )
        db.session.expunge_all()
        return found


def age(app, **columns):
    """Move every session's times back by the given timedeltas (created_at=..., ...)."""
    with app.app_context():
        for row in db.session.execute(db.select(StaffSession)).scalars():
            for column, delta in columns.items():
                setattr(row, column, as_utc(getattr(row, column)) - delta)
        db.session.commit()


def copy_to(app, client, user_agent=None, address=None):
    """Another test client holding ``client``'s session cookie (a copied cookie)."""
    other = ConsoleClient(app)
    if user_agent:
        other.client.environ_base["HTTP_USER_AGENT"] = user_agent
    if address:
        other.client.environ_base["REMOTE_ADDR"] = address
    cookie = client.client.get_cookie("session")
    other.client.set_cookie("session", cookie.value)
    return other


def logged_in(client):
    return client.get("/console/").status_code == 200


def test_the_cookie_carries_a_random_token_and_the_table_only_its_hash(app, admin):
    (row,) = sessions(app)
    assert row.ended_at is None and row.user_agent.startswith("Werkzeug")
    assert row.address == "127.0.0.1"
    with app.app_context():
        user = staff.find(ADMIN)
        assert row.staff_id == user.id
    assert len(row.token_hash) == 64
    assert row.token_hash not in admin.client.get_cookie("session").value


def test_a_copied_cookie_from_another_browser_is_refused_ended_and_audited(app, admin):
    thief = copy_to(app, admin, user_agent=OTHER_BROWSER)
    answer = thief.get("/console/")
    assert answer.status_code == 302 and "/console/login" in answer.location
    (entry,) = audits(app, "session.refused")
    assert entry.actor == ADMIN and entry.details_dict()["reason"] == "user_agent"
    assert OTHER_BROWSER[:40] in entry.details_dict()["user_agent"]
    # The session is over for its own browser too: whoever has the cookie must log in again.
    assert not logged_in(admin)
    assert sessions(app)[0].end_reason == "user_agent"
    # A POST with the copied cookie changes nothing.
    before = product_price(app)
    thief.post("/console/catalogue/1", {"name": "x", "price": "0.01"}, token="x")
    assert product_price(app) == before


def product_price(app):
    with app.app_context():
        return db.session.get(Product, 1).price


def test_the_same_network_is_allowed_another_is_refused(app, admin):
    admin.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    admin.login(ADMIN)
    assert logged_in(admin)
    assert logged_in(copy_to(app, admin, address="203.0.113.200"))  # the same /24
    assert not logged_in(copy_to(app, admin, address="198.51.100.7"))
    assert audits(app, "session.refused")[-1].details_dict()["reason"] == "address"


def test_a_prefix_of_zero_lets_staff_change_networks(make_app):
    app = make_app(CONSOLE_SESSION_IPV4_PREFIX="0")
    admin = ConsoleClient(app)
    admin.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    admin.login(ADMIN)
    assert logged_in(copy_to(app, admin, address="198.51.100.7"))
    assert not logged_in(copy_to(app, admin, address="198.51.100.7", user_agent=OTHER_BROWSER))


def test_sessions_expire_after_the_longest_allowed_and_when_idle(app, admin, operator):
    age(app, created_at=timedelta(hours=12, minutes=1), last_seen_at=timedelta(seconds=0))
    assert not logged_in(admin)
    assert not logged_in(operator)
    assert {row.end_reason for row in sessions(app)} == {"expired"}
    assert len(audits(app, "session.expired")) == 2
    admin.login(ADMIN)
    age(app, last_seen_at=timedelta(hours=1, seconds=5))  # CONSOLE_SESSION_SECONDS: 3600
    assert not logged_in(admin)
    assert sessions(app)[-1].end_reason == "idle"


def test_last_seen_is_written_at_most_once_a_minute(app, admin):
    first = sessions(app)[0].last_seen_at
    for _ in range(3):
        assert logged_in(admin)
    assert sessions(app)[0].last_seen_at == first
    age(app, last_seen_at=timedelta(minutes=2))
    assert logged_in(admin)
    assert as_utc(sessions(app)[0].last_seen_at) > utcnow() - timedelta(seconds=30)


def test_logout_a_new_password_and_disabling_end_the_sessions(app, admin, operator):
    other = ConsoleClient(app)
    other.login(OPERATOR)
    admin.post("/console/logout")
    assert not logged_in(admin)
    assert sessions(app, ADMIN)[0].end_reason == "logout"
    with app.app_context():
        staff.reset_password(OPERATOR, PASSWORD + "!")
    assert not logged_in(operator) and not logged_in(other)
    assert {row.end_reason for row in sessions(app, OPERATOR)} == {"password_reset"}
    operator.login(OPERATOR, PASSWORD + "!")
    assert logged_in(operator)
    with app.app_context():
        staff.disable(OPERATOR)
    assert not logged_in(operator)
    assert sessions(app, OPERATOR)[-1].end_reason == "disabled"


def test_your_sessions_lists_them_and_ending_one_logs_that_browser_out(app, admin):
    laptop = ConsoleClient(app)
    laptop.client.environ_base["HTTP_USER_AGENT"] = OTHER_BROWSER
    laptop.login(ADMIN)
    page = admin.get("/console/sessions").text
    assert page.count("data-session=") == 2 and "127.0.0.x" in page and "127.0.0.1" not in page
    assert "this browser" in page and OTHER_BROWSER in page
    laptop_row = sessions(app)[-1]
    # An operator cannot end the admin's session through their own page.
    operator = ConsoleClient(app)
    operator.login(OPERATOR)
    operator.post(f"/console/sessions/{laptop_row.id}/end")
    assert logged_in(laptop)
    admin.post(f"/console/sessions/{laptop_row.id}/end")
    assert not logged_in(laptop)
    assert logged_in(admin)
    assert sessions(app)[-2].end_reason == "ended_by_staff"
    assert audits(app, "session.end")[0].actor == ADMIN


def test_an_admin_sees_and_ends_anyones_sessions(app, admin, operator):
    assert operator.get("/console/staff").status_code == 403
    page = admin.get("/console/staff").text
    assert OPERATOR in page and page.count("data-session=") == 2
    (row,) = sessions(app, OPERATOR)
    assert admin.post(f"/console/staff/sessions/{row.id}/end").status_code == 302
    assert not logged_in(operator)
    assert audits(app, "session.end")[0].target == f"staff:{OPERATOR}"


def test_a_price_change_after_the_freshness_window_asks_for_the_password_again(app, admin):
    age(app, fresh_at=timedelta(minutes=11))  # CONSOLE_FRESH_MINUTES: 10
    form = {"name": "Coffee", "price": "0.50", "active": "y"}
    asked = admin.post("/console/catalogue/1", form)
    assert asked.status_code == 200 and 'name="reauth_password"' in asked.text
    assert 'name="price" value="0.50"' in asked.text  # the form's fields, carried
    assert product_price(app) == 1800
    wrong = admin.post("/console/catalogue/1", {**form, "reauth_password": "not it"})
    assert wrong.status_code == 401 and product_price(app) == 1800
    assert audits(app, "reauth.failed")
    done = admin.post("/console/catalogue/1", {**form, "reauth_password": PASSWORD})
    assert done.status_code == 302 and product_price(app) == 50
    assert audits(app, "reauth")
    # Fresh now: the next change goes straight through.
    assert admin.post("/console/catalogue/1", {**form, "price": "0.60"}).status_code == 302
    assert product_price(app) == 60


def test_the_freshness_window_is_a_setting(make_app):
    app = make_app(CONSOLE_FRESH_MINUTES="0")
    admin = ConsoleClient(app)
    admin.login(ADMIN)
    age(app, fresh_at=timedelta(seconds=1))
    asked = admin.post("/console/catalogue/1", {"name": "Coffee", "price": "0.50", "active": "y"})
    assert 'name="reauth_password"' in asked.text and product_price(app) == 1800


def test_the_session_table_under_concurrent_requests(app, admin):
    """Many requests at once with one session: the genuine ones all pass and write last_seen at
    most once; copies from another browser are all refused, and the session ends once."""
    age(app, last_seen_at=timedelta(minutes=2))
    clients = [copy_to(app, admin) for _ in range(6)]
    answers = at_once([lambda c=c: c.get("/console/").status_code for c in clients])
    assert answers == [200] * 6
    (row,) = sessions(app)
    assert row.ended_at is None
    assert as_utc(row.last_seen_at) > utcnow() - timedelta(seconds=30)
    thieves = [copy_to(app, admin, user_agent=OTHER_BROWSER) for _ in range(6)]
    answers = at_once([lambda c=c: c.get("/console/").status_code for c in thieves])
    assert answers == [302] * 6
    assert len(audits(app, "session.refused")) == 1
    assert sessions(app)[0].end_reason == "user_agent"
    assert not logged_in(admin)


def test_ending_a_session_is_one_compare_and_set(app, admin):
    (row,) = sessions(app)
    token = admin.token("/console/sessions")  # (puts the CSRF secret in the cookie: first)
    clients = [copy_to(app, admin) for _ in range(4)]
    answers = at_once(
        [
            lambda c=c: c.post(f"/console/sessions/{row.id}/end", token=token).status_code
            for c in clients
        ]
    )
    assert answers == [302] * 4, answers
    assert len(audits(app, "session.end")) == 1
