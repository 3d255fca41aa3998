"""The console's Reconciliation pages against the simulator, through Flask's test client (SQLite
and PostgreSQL): runs listed per Beijing day, totals ours vs WeChat's, resolving a difference
(admins only, with a note and the CSRF token), running a day again, the bill as CSV, and open
differences under Needs attention. The browser test is in test_browser.py."""

import csv
import io

from server.domain import bills
from tests.support.console import ADMIN, OPERATOR, staffed
from tests.support.orders import COFFEE, paid_order


def today():
    return bills.beijing_today().isoformat()


def a_day_with_one_difference(stack, admin):
    """A paid order, a payment only WeChat has (888 fen), and the day run from the console."""
    _, order = paid_order(stack)
    unknown = stack.control(f"bills/{today()}", kind="payment", total=888)["change"]
    answer = admin.post("/console/reconciliation/run", {"day": today()}, follow_redirects=True)
    assert answer.status_code == 200 and f"Reconciled {today()}: Differences" in answer.text
    [(run_id,)] = stack.query("SELECT id FROM reconciliation_runs")
    [(diff_id,)] = stack.query("SELECT id FROM bill_differences")
    return order, unknown, run_id, diff_id


def test_runs_are_listed_with_totals_and_differences(stack):
    admin, operator = staffed(stack)
    order, unknown, run_id, _ = a_day_with_one_difference(stack, admin)
    listing = operator.get("/console/reconciliation").text
    assert today() in listing and "DIFFERENCES" in listing and "¥18.00" in listing
    assert "¥26.88" in listing  # WeChat's bill: the coffee and the unknown 8.88
    assert "Run this day" not in listing  # an operator reads; only admins run
    page = operator.get(f"/console/reconciliation/{run_id}").text
    assert 'data-total="paid-ours">¥18.00' in page and 'data-total="paid-wechat">¥26.88' in page
    assert "UNKNOWN_PAYMENT" in page and unknown["out_trade_no"] in page
    assert "we have no such order" in page  # what the run found, in words
    assert "Mark resolved" not in page and "Run again" not in page
    assert stack.query(
        "SELECT actor, action, target FROM audit_log WHERE action = 'bills.reconcile'"
    ) == [(ADMIN, "bills.reconcile", f"day:{today()}")]
    assert order["total"] == COFFEE
    assert operator.get("/console/reconciliation/999999").status_code == 404


def test_resolving_a_difference_needs_an_admin_a_note_and_the_token(stack):
    admin, operator = staffed(stack)
    _, _, run_id, diff_id = a_day_with_one_difference(stack, admin)
    path = f"/console/reconciliation/differences/{diff_id}/resolve"
    overview = admin.get("/console/").text
    assert "1</strong> reconciliation difference" in overview
    assert 'Needs attention <span class="count">1</span>' in overview
    attention = admin.get("/console/attention").text
    assert "UNKNOWN_PAYMENT" in attention and f"/console/reconciliation/{run_id}#" in attention

    assert operator.post(path, {"note": "seen"}).status_code == 403
    assert admin.post(path, {"note": "seen"}, token="forged").status_code == 400
    assert admin.post(path, {"note": "seen"}, token=False).status_code == 400
    empty = admin.post(path, {"note": "  "}, follow_redirects=True)
    assert "Write a note" in empty.text
    assert stack.query("SELECT resolved_at FROM bill_differences") == [(None,)]
    assert stack.query(
        "SELECT actor, action FROM audit_log WHERE action LIKE "
        "'bill_difference%' OR action = 'denied'"
    ) == [(OPERATOR, "denied")]

    done = admin.post(
        path, {"note": "Another shop on our account", "back": "attention"}, follow_redirects=True
    )
    assert "Resolved." in done.text and "Reconciliation differences</h2>" in done.text
    assert stack.query("SELECT resolved_by, note FROM bill_differences") == [
        (ADMIN, "Another shop on our account")
    ]
    assert stack.query("SELECT status FROM reconciliation_runs") == [("CLEAN",)]
    assert stack.query(
        "SELECT actor, target FROM audit_log WHERE action = 'bill_difference.resolve'"
    ) == [(ADMIN, f"bill_difference:{diff_id}")]
    again = admin.post(path, {"note": "twice"}, follow_redirects=True)
    assert "Someone resolved this already" in again.text
    page = admin.get(f"/console/reconciliation/{run_id}").text
    assert "Another shop on our account" in page and "RESOLVED" in page
    assert "reconciliation difference" not in admin.get("/console/").text


def test_running_a_day_again_keeps_the_resolution_and_finds_new_differences(stack):
    admin, operator = staffed(stack)
    _, _, run_id, diff_id = a_day_with_one_difference(stack, admin)
    admin.post(f"/console/reconciliation/differences/{diff_id}/resolve", {"note": "known"})
    stack.control(f"bills/{today()}", kind="payment", total=5)
    assert operator.post("/console/reconciliation/run", {"day": today()}).status_code == 403
    again = admin.post("/console/reconciliation/run", {"day": today()}, follow_redirects=True)
    assert "DIFFERENCES" in again.text and again.text.count("Mark resolved") == 1
    assert stack.query("SELECT id FROM reconciliation_runs") == [(run_id,)]  # one row a day
    assert stack.query("SELECT resolved_by FROM bill_differences ORDER BY id") == [
        (ADMIN,),
        (None,),
    ]
    assert len(stack.query("SELECT id FROM audit_log WHERE action = 'bills.reconcile'")) == 2
    future = admin.post("/console/reconciliation/run", {"day": "2999-01-01"}, follow_redirects=True)
    assert "has not happened yet" in future.text
    assert (
        admin.post(
            "/console/reconciliation/run", {"day": "not a day"}, follow_redirects=True
        ).text.count("Pick a Beijing day")
        == 1
    )
    assert len(stack.query("SELECT id FROM reconciliation_runs")) == 1


def test_the_bill_downloads_as_csv(stack):
    admin, operator = staffed(stack)
    order, unknown, run_id, _ = a_day_with_one_difference(stack, admin)
    answer = operator.get(f"/console/reconciliation/{run_id}/bill.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert f"tradebill-{today()}.csv" in answer.headers["Content-Disposition"]
    text = answer.data.decode("utf-8")
    assert text.startswith("\ufeff交易时间,") and "`" not in text
    assert order["out_trade_no"] in text and unknown["out_trade_no"] in text


def test_a_days_reconciliation_exports_as_csv(stack):
    """Every line of the bill beside ours, the difference named, yuan beside fen; audited."""
    admin, operator = staffed(stack)
    order, unknown, run_id, _ = a_day_with_one_difference(stack, admin)
    answer = operator.get(f"/console/reconciliation/{run_id}/export.csv")
    assert answer.status_code == 200 and answer.data.startswith(b"\xef\xbb\xbf")
    assert f"reconciliation-{today()}.csv" in answer.headers["Content-Disposition"]
    header, *rows = csv.reader(io.StringIO(answer.data.decode("utf-8-sig")))
    lines = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(lines) == {order["out_trade_no"], unknown["out_trade_no"]}
    ours = lines[order["out_trade_no"]]
    assert (ours["Kind"], ours["WeChat (yuan)"], ours["Ours (yuan)"]) == (
        "Payment",
        "18.00",
        "18.00",
    )
    assert (ours["WeChat (fen)"], ours["Ours (fen)"], ours["Our status"]) == (
        "1800",
        "1800",
        "Paid",
    )
    assert ours["Difference"] == "" and ours["WeChat fee (yuan)"].startswith("0.")
    theirs = lines[unknown["out_trade_no"]]
    assert (theirs["WeChat (yuan)"], theirs["Ours (yuan)"]) == ("8.88", "")
    assert (theirs["Difference"], theirs["Difference resolved"]) == ("Payment we do not have", "no")
    assert sum(int(row["WeChat (fen)"]) for row in lines.values()) == 2688  # the bill's total
    assert stack.query(
        "SELECT actor, target FROM audit_log WHERE action = 'export.reconciliation'"
    ) == [(OPERATOR, f"day:{today()}")]
    assert "Export the day (CSV)" in operator.get(f"/console/reconciliation/{run_id}").text
