"""CSV exports (SQLite and PostgreSQL): UTF-8 with a BOM, headers in the staff member's
language, money in yuan beside raw fen, the filters applied, every export audited, and the
rows streamed as they are read (memory does not grow with the number of orders)."""

import csv
import io
import secrets
import tracemalloc
from datetime import timedelta

import pytest

from server.extensions import db
from server.models import AuditLog, Order, OrderItem, Refund
from server.timeutil import utcnow
from tests.support import factories
from tests.support.console import ConsoleClient, make_staff

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def read_csv(answer):
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    raw = answer.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def by_header(rows):
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def audits(app, action):
    with app.app_context():
        return [
            (entry.actor, entry.details_dict())
            for entry in db.session.execute(
                db.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
            ).scalars()
        ]


@pytest.fixture
def orders(app):
    """Two paid orders (one refunded in part), an unpaid one; 手冲咖啡 18.00, 拿铁 22.00."""
    with app.app_context():
        coffee, latte = factories.product("手冲咖啡", 1800), factories.product("拿铁", 2200)
        first = factories.paid_order(items=[(coffee, 2), (latte, 1)])  # 58.00
        second = factories.paid_order(items=[(latte, 1)])  # 22.00
        factories.refund(second, 550)
        unpaid = factories.paid_order(items=[(coffee, 1)])
        db.session.execute(
            db.update(Order)
            .where(Order.id == unpaid.id)
            .values(status=Order.NOTPAY, paid_at=None, transaction_id=None)
        )
        db.session.commit()
        return [first.out_trade_no, second.out_trade_no, unpaid.out_trade_no]


def test_orders_export_in_english_with_yuan_and_fen(app, admin, orders):
    rows = by_header(read_csv(admin.get("/console/exports/orders.csv")))
    assert [row["Order number"] for row in rows] == orders[:2]  # paid ones, as the list
    first, second = rows
    assert first["Items"] == "手冲咖啡 × 2; 拿铁 × 1"
    assert (first["Total (yuan)"], first["Total (fen)"]) == ("58.00", "5800")
    assert (second["Refunded (yuan)"], second["Refunded (fen)"]) == ("5.50", "550")
    assert (first["Status"], first["Status code"]) == ("Paid", "PAID")
    assert first["Paid (Beijing time)"][:4] == str(utcnow().year)
    total = sum(float(row["Total (yuan)"]) for row in rows)
    assert total == pytest.approx(80.00)
    unpaid = by_header(read_csv(admin.get("/console/exports/orders.csv?status=NOTPAY")))
    assert [(r["Order number"], r["Status"]) for r in unpaid] == [(orders[2], "Unpaid")]
    found = by_header(
        read_csv(admin.get("/console/exports/orders.csv", query_string={"q": "拿铁"}))
    )
    assert [r["Order number"] for r in found] == orders[:2]
    assert audits(app, "export.orders") == [
        ("admin@shop.test", {}),
        ("admin@shop.test", {"status": "NOTPAY"}),
        ("admin@shop.test", {"q": "拿铁"}),
    ]


def test_orders_export_in_chinese(app, orders):
    make_staff(app, "zh@shop.test", "operator", language="zh_Hans")
    client = ConsoleClient(app)
    client.login("zh@shop.test")
    rows = read_csv(client.get("/console/exports/orders.csv"))
    assert rows[0][:5] == [
        "订单号",
        "微信支付单号",
        "下单时间（北京时间）",
        "支付时间（北京时间）",
        "状态",
    ]
    assert rows[1][4] == "已支付" and rows[1][8] == "PAID"


def test_a_date_range_and_refunds(app, admin, orders):
    today = (utcnow() + timedelta(hours=8)).date()
    rows = by_header(read_csv(admin.get(f"/console/exports/refunds.csv?start={today}&end={today}")))
    assert [
        (r["Order number"], r["Amount (yuan)"], r["Amount (fen)"], r["Status"]) for r in rows
    ] == [(orders[1], "5.50", "550", "Refunded")]
    yesterday = today - timedelta(days=1)
    assert read_csv(
        admin.get(f"/console/exports/refunds.csv?start={yesterday}&end={yesterday}")
    ) == [read_csv(admin.get(f"/console/exports/refunds.csv?start={today}&end={today}"))[0]]
    before = by_header(read_csv(admin.get(f"/console/exports/orders.csv?end={yesterday}")))
    assert before == []
    # Bad dates: back to the Exports page, saying why; nothing exported, nothing audited.
    backwards = f"/console/exports/refunds.csv?start={today}&end={yesterday}"
    assert "The last day comes before the first" in admin.get(backwards, follow_redirects=True).text
    assert "Pick a day" in admin.get("/console/exports/refunds.csv", follow_redirects=True).text
    bad = admin.get("/console/exports/orders.csv?start=x", follow_redirects=True)
    assert bad.request.path == "/console/exports" and "Not a valid date value" in bad.text
    assert len(audits(app, "export.refunds")) == 3  # the three above that were sent
    assert audits(app, "export.refunds")[0][1] == {"start": str(today), "end": str(today)}
    assert "Download refunds (CSV)" in admin.get("/console/exports").text


def bulk_orders(app, count):
    """``count`` paid orders of one coffee each, inserted in bulk."""
    with app.app_context():
        coffee = factories.product("手冲咖啡", 1800)
        buyer = factories.user()
        channel = factories.miniprogram()
        now = utcnow()
        for start in range(0, count, 1000):
            size = min(1000, count - start)
            numbers = [f"B{secrets.token_hex(12)}" for _ in range(size)]
            db.session.execute(
                db.insert(Order),
                [
                    {
                        **channel,
                        "user_id": buyer.id,
                        "payer_openid": buyer.openid,
                        "out_trade_no": number,
                        "description": "手冲咖啡",
                        "total": 1800,
                        "status": Order.PAID,
                        "time_expire": now,
                        "transaction_id": "42" + number[1:],
                        "paid_at": now,
                        "created_at": now,
                    }
                    for number in numbers
                ],
            )
            ids = db.session.execute(
                db.select(Order.id).where(Order.out_trade_no.in_(numbers))
            ).scalars()
            db.session.execute(
                db.insert(OrderItem),
                [
                    {
                        "order_id": order_id,
                        "product_id": coffee.id,
                        "name": "手冲咖啡",
                        "unit_price": 1800,
                        "quantity": 1,
                        "amount": 1800,
                    }
                    for order_id in ids
                ],
            )
        db.session.commit()


def peak_while_streaming(client):
    """(chunks, rows, peak bytes allocated) while the export is read chunk by chunk."""
    answer = client.get("/console/exports/orders.csv", buffered=False)
    assert answer.is_streamed
    tracemalloc.start()
    chunks = rows = 0
    try:
        for chunk in answer.response:
            chunks += 1
            rows += chunk.count(b"\r\n")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        answer.close()
    return chunks, rows, peak


def test_a_large_export_is_streamed_in_constant_memory(app, admin):
    bulk_orders(app, 1500)
    chunks, rows, small = peak_while_streaming(admin)
    assert rows == 1501 and chunks >= 3  # sent 500 rows at a time, not at the end
    bulk_orders(app, 6000)
    chunks, rows, large = peak_while_streaming(admin)
    assert rows == 7501 and chunks >= 15
    # Five times the rows, about the same memory (a list of them would take five times more).
    assert large < small * 2, (small, large)


def test_refund_export_reads_states_by_name(app, admin):
    with app.app_context():
        order = factories.paid_order()
        factories.refund(order, 800, status=Refund.ABNORMAL)
    today = (utcnow() + timedelta(hours=8)).date()
    [row] = by_header(
        read_csv(admin.get(f"/console/exports/refunds.csv?start={today}&end={today}"))
    )
    assert (row["Status"], row["Status code"]) == ("Could not be paid out", "ABNORMAL")
