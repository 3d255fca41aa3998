"""A service provider's console overview and reconciliation per store: a store-limited account
sees its store's figures only (takings, refunds, what waits for a person, its reconciliation)
and reconciles its store's part of the provider's bill, never another store's or the whole
provider's; an admin sees all stores with a per-store breakdown, or picks one."""

import re

import requests

from server.domain import bills, staff
from server.extensions import db
from server.models import AuditLog, BillDifference
from tests.support import wait_for
from tests.support.console import ADMIN, PASSWORD, ConsoleClient, make_staff

from .support import CENTRALISED, NOODLES, TEA, add_store_products, buy, status

TEA_STAFF, NOODLES_STAFF = "tea@shop.test", "noodles@shop.test"


def cell(html, name, store=None):
    """The inside of the element ``data-stat=name``: the page's own, or in the row of the
    store's breakdown."""
    if store is not None:
        html = re.search(rf'<tr data-store="{store}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'<(\w+)[^>]*data-stat="{name}"[^>]*>(.*?)</\1>', html, re.S).group(2)


def stat(html, name, store=None):
    """The figure ``data-stat=name`` shows (its text before any markup)."""
    return cell(html, name, store).split("<")[0].strip()


def two_stores_trading(make_stack):
    """Tea sold one (¥32.00); noodles sold two (¥50.00) and refunded ¥10.00; a noodle
    customer asks for a refund. Staff: one account per store, and an admin."""
    stack = make_stack(**CENTRALISED)
    products = add_store_products(stack)
    _, tea = buy(stack, "o-tea", products["tea"])
    noodle_auth, noodles = buy(stack, "o-noodles", products["noodles"], quantity=2)
    for answer in (tea, noodles):
        stack.cashier(answer["pay_params"])
    ids = tea["order"]["id"], noodles["order"]["id"]
    wait_for(lambda: [status(stack, i) for i in ids] == ["PAID", "PAID"])
    stack.cli("refund", str(ids[1]), "--amount", "1000", "--reason", "少了一碗")
    wait_for(lambda: stack.query("SELECT status FROM refunds") == [("SUCCESS",)])
    asked = requests.post(
        f"{stack.backend}/api/orders/{ids[1]}/refund-request",
        json={"reason": "面凉了"},
        headers=noodle_auth,
    )
    assert asked.status_code == 201, asked.text
    with stack.app.app_context():
        staff.create(TEA_STAFF, "admin", PASSWORD, language="en", store="tea")
        staff.create(NOODLES_STAFF, "admin", PASSWORD, language="en", store="noodles")
        db.session.remove()
    make_staff(stack.app, ADMIN, "admin")
    clients = {}
    for email in (TEA_STAFF, NOODLES_STAFF, ADMIN):
        clients[email] = ConsoleClient(stack.app)
        assert clients[email].login(email).status_code == 302
    return stack, ids, clients


def test_each_store_sees_its_own_figures_and_an_admin_all_of_them(make_stack):
    stack, (tea_order, noodle_order), clients = two_stores_trading(make_stack)

    tea = clients[TEA_STAFF].get("/console/")
    assert tea.status_code == 200
    assert 'data-store="tea"' in tea.text and "茶铺" in tea.text
    assert stat(tea.text, "paid-today") == "¥32.00"
    assert stat(tea.text, "paid-week") == "¥32.00"
    assert stat(tea.text, "refunded-week") == "¥0.00"
    assert f"/console/orders/{noodle_order}" not in tea.text  # not among its latest payments
    assert f"/console/orders/{tea_order}" in tea.text
    assert "orders-needing-attention" not in tea.text  # the noodle customer's request
    assert 'id="stores"' not in tea.text  # no breakdown of the other stores
    # Its menu: only the pages it may open.
    assert "/console/catalogue" not in tea.text and "/console/attention" not in tea.text
    # Asking for another store changes nothing: an account limited to a store sees it only.
    assert stat(clients[TEA_STAFF].get("/console/?store=noodles").text, "paid-today") == "¥32.00"

    noodles = clients[NOODLES_STAFF].get("/console/").text
    assert stat(noodles, "paid-today") == "¥50.00"
    assert stat(noodles, "refunded-week") == "¥10.00"
    waiting = re.search(r'id="orders-needing-attention">(.*?)</ul>', noodles, re.S).group(1)
    assert f"/console/orders/{noodle_order}" in waiting and "asks for a refund" in waiting

    admin = clients[ADMIN].get("/console/").text
    assert stat(admin, "paid-today") == "¥82.00"
    assert stat(admin, "refunded-week") == "¥10.00"
    assert (stat(admin, "paid-today", "tea"), stat(admin, "paid-today", "noodles")) == (
        "¥32.00",
        "¥50.00",
    )
    assert stat(admin, "refunded-week", "noodles") == "¥10.00"
    assert cell(admin, "attention", "noodles") == '<span class="count">1</span>'
    assert stat(admin, "attention", "tea") == ""  # a dash: nothing waits
    picked = clients[ADMIN].get("/console/?store=noodles").text
    assert stat(picked, "paid-today") == "¥50.00" and 'data-store="noodles"' in picked
    assert "store=noodles" in picked  # its links keep to the store's orders
    # The orders list's store filter: a store's orders, whichever way they were paid.
    for store, shown, hidden in (
        ("tea", tea_order, noodle_order),
        ("noodles", noodle_order, tea_order),
    ):
        listed = clients[ADMIN].get(f"/console/orders?status=all&store={store}").text
        assert f"/console/orders/{shown}" in listed and f"/console/orders/{hidden}" not in listed
    nowhere = clients[ADMIN].get("/console/orders?status=all&store=bakery").text
    assert f"/console/orders/{tea_order}" not in nowhere
    assert f"/console/orders/{noodle_order}" not in nowhere
    exported = clients[ADMIN].get("/console/exports/orders.csv?status=all&store=tea").text
    tea_no, noodle_no = (n for (n,) in stack.query("SELECT out_trade_no FROM orders ORDER BY id"))
    assert tea_no in exported and noodle_no not in exported


def test_a_store_reconciles_its_part_of_the_bill_only(make_stack):
    stack, (tea_order, _noodle_order), clients = two_stores_trading(make_stack)
    day = bills.beijing_today().isoformat()
    tea = clients[TEA_STAFF]
    page = tea.get("/console/reconciliation").text
    assert "Run this day" in page
    done = tea.post("/console/reconciliation/run", {"day": day}, token=tea.token())
    assert done.status_code == 302
    # One run: the tea shop's lines of the provider's bill, against the tea shop's orders.
    runs = stack.query(
        "SELECT mchid, status, payments_ours, paid_total_ours, payments_wechat "
        "FROM reconciliation_runs"
    )
    assert runs == [(TEA, "CLEAN", 1, 3200, 1)]
    (run_id,) = stack.query("SELECT id FROM reconciliation_runs")[0]
    assert done.location.endswith(f"/console/reconciliation/{run_id}")
    shown = tea.get(f"/console/reconciliation/{run_id}")
    assert shown.status_code == 200 and "茶铺" in shown.text
    state = cell(tea.get("/console/").text, "reconciliation")  # its overview says so
    assert f'href="/console/reconciliation/{run_id}">{day}</a>' in state and "Matches" in state
    export = tea.get(f"/console/reconciliation/{run_id}/export.csv")
    assert export.status_code == 200
    with stack.app.app_context():
        tea_no, noodle_no = (
            db.session.execute(db.text("SELECT out_trade_no FROM orders ORDER BY id")).scalars()
        ).all()
    assert tea_no in export.text and noodle_no not in export.text
    with stack.app.app_context():
        logged = db.session.execute(
            db.select(AuditLog.actor, AuditLog.details).filter_by(action="bills.reconcile")
        ).all()
    assert [(actor, '"store": "tea"' in details) for actor, details in logged] == [
        (TEA_STAFF, True)
    ]

    # The admin reconciles the provider's whole bill, then each store's part.
    admin = clients[ADMIN]
    admin.post("/console/reconciliation/run", {"day": day}, token=admin.token())
    mchids = {m for (m,) in stack.query("SELECT mchid FROM reconciliation_runs")}
    assert mchids == {stack.settings["WECHATPAY_MCHID"], TEA, NOODLES}
    runs = {m: i for m, i in stack.query("SELECT mchid, id FROM reconciliation_runs")}
    # The tea shop's account still sees its own run only, and may open no other.
    listed = tea.get("/console/reconciliation").text
    assert f"/console/reconciliation/{runs[TEA]}" in listed
    for other in (runs[NOODLES], runs[stack.settings["WECHATPAY_MCHID"]]):
        assert f"/console/reconciliation/{other}" not in listed
        assert tea.get(f"/console/reconciliation/{other}").status_code == 403
        assert tea.get(f"/console/reconciliation/{other}/export.csv").status_code == 403
    listed = admin.get("/console/reconciliation").text
    assert sorted(re.findall(r'data-store="([a-z]*)">', listed)) == ["", "noodles", "tea"]
    assert 'data-store="">All stores (the provider' in listed

    # A difference is resolved by the store whose run it is, and by no other store.
    with stack.app.app_context():
        diffs = [
            BillDifference(run_id=runs[m], key=f"x-{m}", kind=bills.UNKNOWN_PAYMENT)
            for m in (TEA, NOODLES)
        ]
        db.session.add_all(diffs)
        db.session.commit()
        mine, theirs = (d.id for d in diffs)
    note = {"note": "查过了"}
    path = "/console/reconciliation/differences/{}/resolve"
    assert tea.post(path.format(theirs), note, token=tea.token()).status_code == 403
    assert tea.post(path.format(mine), note, token=tea.token()).status_code == 302
    assert stack.query("SELECT resolved_by FROM bill_differences ORDER BY id") == [
        (TEA_STAFF,),
        (None,),
    ]
