"""A staff account limited to one store (a service provider's console): it sees and refunds
that store's orders only; another store's order, refund page or reconciliation answers 403,
changes nothing, and the attempt is in the audit log."""

from datetime import date

from server.domain import staff
from server.extensions import db
from server.models import AuditLog, ReconciliationRun
from tests.console.test_login_catalogue_orders import age
from tests.console.test_refund_decisions import ask_refund
from tests.support import wait_for
from tests.support.console import ADMIN, OUT_REFUND_NO, PASSWORD, ConsoleClient, make_staff

from .support import CENTRALISED, NOODLES, TEA, add_store_products, buy, status

TEA_STAFF = "tea@shop.test"


def test_a_store_limited_account_sees_and_refunds_its_store_only(make_stack):
    stack = make_stack(**CENTRALISED)
    app, products = stack.app, add_store_products(stack)
    paid = []
    for openid, store in (("o-tea", "tea"), ("o-noodles", "noodles")):
        _, answer = buy(stack, openid, products[store])
        stack.cashier(answer["pay_params"])
        paid.append(answer["order"]["id"])
    tea, noodles = paid
    wait_for(lambda: [status(stack, i) for i in paid] == ["PAID", "PAID"])
    with app.app_context():
        runs = [
            ReconciliationRun(day=date(2026, 12, 6), mchid=m, status="CLEAN")
            for m in (TEA, NOODLES)
        ]
        db.session.add_all(runs)
        db.session.commit()
        tea_run, noodles_run = (run.id for run in runs)
        staff.create(TEA_STAFF, "admin", PASSWORD, language="en", store="tea")
        db.session.remove()
    make_staff(app, ADMIN, "admin")
    clerk = ConsoleClient(app)
    assert clerk.login(TEA_STAFF).status_code == 302

    # Its store's orders: listed, shown; the other store's neither.
    listed = clerk.get("/console/orders?status=all").text
    assert f"/console/orders/{tea}" in listed and f"/console/orders/{noodles}" not in listed
    shown = clerk.get(f"/console/orders/{tea}")
    assert shown.status_code == 200 and "茶铺" in shown.text  # the store, on the order
    assert "茶铺" in listed
    for path in (
        f"/console/orders/{noodles}",
        f"/console/orders/{noodles}/refund",
        f"/console/reconciliation/{noodles_run}",
        "/console/catalogue",  # not a store's page
    ):
        assert clerk.get(path).status_code == 403, path
    token = clerk.token(f"/console/orders/{tea}")  # its overview is its store's orders
    refused = clerk.post(
        f"/console/orders/{noodles}/refund", {"amount": "1.00", "reason": "x"}, token=token
    )
    assert refused.status_code == 403
    assert clerk.get(f"/console/reconciliation/{tea_run}").status_code == 200
    runs_page = clerk.get("/console/reconciliation").text
    assert f"/console/reconciliation/{tea_run}" in runs_page
    assert f"/console/reconciliation/{noodles_run}" not in runs_page

    # Its own store's order it refunds; the other's is untouched, and the attempts audited.
    path, form = f"/console/orders/{tea}/refund", {"amount": "1.00", "reason": "少了一杯"}
    confirm = clerk.post(path, form, token=token)
    number = OUT_REFUND_NO.search(confirm.text).group(1)
    done = clerk.post(path, {**form, "confirmed": "y", "out_refund_no": number}, token=token)
    assert done.status_code == 302, done.text[-3000:]
    with app.app_context():
        denied = db.session.execute(
            db.select(AuditLog.actor, AuditLog.target).filter_by(action="store.denied")
        ).all()
        assert (TEA_STAFF, f"/console/orders/{noodles}/refund") in denied
        assert len(denied) == 5
        assert db.session.execute(
            db.text("SELECT o.sub_mchid FROM refunds r JOIN orders o ON o.id = r.order_id")
        ).all() == [(TEA,)]

    # An account with no store sees both.
    admin = ConsoleClient(app)
    admin.login(ADMIN)
    assert admin.get(f"/console/orders/{noodles}").status_code == 200


def test_a_store_admin_closes_and_decides_its_store_only(make_stack):
    """Closing an unpaid order, syncing its shipping, deciding a refund request: a store's
    admin does it for its store's orders; the other store's answers 403, changes nothing, and is
    audited. Its refund requests list is its store's; an admin of every store picks a store."""
    stack = make_stack(**CENTRALISED)
    app, products = stack.app, add_store_products(stack)
    unpaid, paid, asked = {}, {}, {}
    for store in ("tea", "noodles"):
        auth, answer = buy(stack, f"o-{store}", products[store])
        unpaid[store] = answer["order"]["id"]
        age(stack, unpaid[store], minutes=6)
        auth, answer = buy(stack, f"o-{store}", products[store])
        stack.cashier(answer["pay_params"])
        paid[store] = answer["order"]
    wait_for(lambda: [status(stack, o["id"]) for o in paid.values()] == ["PAID", "PAID"])
    for store, order in paid.items():
        asked[store] = ask_refund(stack, stack.login(f"o-{store}"), order)
    with app.app_context():
        staff.create(TEA_STAFF, "admin", PASSWORD, language="en", store="tea")
        staff.create("tea-op@shop.test", "operator", PASSWORD, language="en", store="tea")
        db.session.remove()
    make_staff(app, ADMIN, "admin")
    clerk, operator, admin = ConsoleClient(app), ConsoleClient(app), ConsoleClient(app)
    clerk.login(TEA_STAFF)
    operator.login("tea-op@shop.test")
    admin.login(ADMIN)

    # The order page's buttons and the refund requests menu work for its own store.
    order_page = clerk.get(f"/console/orders/{unpaid['tea']}").text
    assert f"/console/orders/{unpaid['tea']}/close" in order_page
    overview = clerk.get("/console/").text  # its store's one request waits, linked
    assert '<p class="requests-waiting"><a href="/console/refund-requests"><strong>1</strong>' in (
        overview
    )
    listed = clerk.get("/console/refund-requests").text
    assert f'id="request-{asked["tea"]}"' in listed
    assert f'id="request-{asked["noodles"]}"' not in listed
    assert 'class="store-filter"' not in listed  # its own store's anyway

    # An operator of the store still does no admin's action.
    assert operator.post(f"/console/orders/{unpaid['tea']}/close").status_code == 403
    assert operator.post(f"/console/refund-requests/{asked['tea']}/approve").status_code == 403

    # The other store's: 403, nothing changed.
    for path in (
        f"/console/orders/{unpaid['noodles']}/close",
        f"/console/orders/{paid['noodles']['id']}/shipping/sync",
        f"/console/refund-requests/{asked['noodles']}/approve",
        f"/console/refund-requests/{asked['noodles']}/reject",
    ):
        assert clerk.post(path, {"note": "no"}).status_code == 403, path
    assert status(stack, unpaid["noodles"]) == "NOTPAY"

    # Its own: closed with WeChat, the request approved and refunded.
    closed = clerk.post(f"/console/orders/{unpaid['tea']}/close", follow_redirects=True)
    assert "The order is closed" in closed.text
    assert status(stack, unpaid["tea"]) == "CLOSED"
    approved = clerk.post(
        f"/console/refund-requests/{asked['tea']}/approve", {"amount": "", "note": "好的"}
    )
    assert approved.status_code == 302, approved.text[-2000:]
    assert stack.query("SELECT order_id, status FROM refund_requests ORDER BY id") == [
        (paid["tea"]["id"], "APPROVED"),
        (paid["noodles"]["id"], "PENDING"),
    ]
    assert stack.query("SELECT o.sub_mchid FROM refunds r JOIN orders o ON o.id = r.order_id") == [
        (TEA,)
    ]
    # Sending a refund again (ABNORMAL only): its store's refund opens; the other's is 403.
    assert admin.refund(paid["noodles"]["id"], "1.00", "少了一碗").status_code == 302
    [(tea_refund,)], [(noodles_refund,)] = (
        stack.query("SELECT id FROM refunds WHERE order_id = :id", id=paid[store]["id"])
        for store in ("tea", "noodles")
    )
    assert clerk.get(f"/console/refunds/{tea_refund}/apply-abnormal").status_code == 302
    assert clerk.get(f"/console/refunds/{noodles_refund}/apply-abnormal").status_code == 403
    with app.app_context():
        denied = db.session.execute(
            db.select(AuditLog.target).filter_by(action="store.denied", actor=TEA_STAFF)
        ).scalars()
        assert sorted(denied) == sorted(
            [
                f"/console/orders/{unpaid['noodles']}/close",
                f"/console/orders/{paid['noodles']['id']}/shipping/sync",
                f"/console/refund-requests/{asked['noodles']}/approve",
                f"/console/refund-requests/{asked['noodles']}/reject",
                f"/console/refunds/{noodles_refund}/apply-abnormal",
            ]
        )

    # An admin of every store sees both, or picks one.
    every = admin.get("/console/refund-requests?status=ALL").text
    assert f'id="request-{asked["tea"]}"' in every and f'id="request-{asked["noodles"]}"' in every
    noodles = admin.get("/console/refund-requests?status=ALL&store=noodles").text
    assert 'class="store-filter"' in noodles
    assert f'id="request-{asked["noodles"]}"' in noodles
    assert f'id="request-{asked["tea"]}"' not in noodles
    unknown = admin.get("/console/refund-requests?status=ALL&store=nowhere").text
    assert 'id="request-' not in unknown
