"""The orders list as staff use it (SQLite and PostgreSQL): it opens on paid orders, filters by
state (unpaid included), and finds an order by number, WeChat's transaction id or part of a
product's name, whatever the database's case and Unicode rules. And Needs attention counts
the same on the badge, the overview and its page, with no red badge at 0."""

import re

import pytest

from server.extensions import db
from server.models import Order
from tests.support import factories

ROW = re.compile(r'<a href="/console/orders/(\d+)" class="mono">')


def listed(client, **query):
    page = client.get("/console/orders", query_string=query)
    assert page.status_code == 200
    return sorted(int(found) for found in ROW.findall(page.text))


@pytest.fixture
def shop(app):
    """A paid pour-over, a paid latte refunded in full, an unpaid order and a closed one."""
    with app.app_context():
        pour_over = factories.product("手冲咖啡", 1800)
        latte = factories.product("Café Latte", 2200)
        orders = {
            "pour_over": factories.paid_order(items=[(pour_over, 2)]),
            "latte": factories.refunded_order(items=[(latte, 1)]),
            "unpaid": factories.paid_order(items=[(latte, 1)]),
            "closed": factories.paid_order(items=[(pour_over, 1)]),
        }
        for name, status in (("unpaid", Order.NOTPAY), ("closed", Order.CLOSED)):
            db.session.execute(
                db.update(Order)
                .where(Order.id == orders[name].id)
                .values(status=status, paid_at=None, transaction_id=None)
            )
        db.session.commit()
        return {
            name: {"id": o.id, "out_trade_no": o.out_trade_no, "transaction_id": o.transaction_id}
            for name, o in orders.items()
        }


def test_the_list_opens_on_paid_orders_and_filters_by_state(shop, operator):
    paid = sorted([shop["pour_over"]["id"], shop["latte"]["id"]])
    assert listed(operator) == paid  # refunded ones too: money was taken
    assert listed(operator, status="paid") == paid
    assert listed(operator, status="NOTPAY") == [shop["unpaid"]["id"]]
    assert listed(operator, status="PAID") == [shop["pour_over"]["id"]]
    assert listed(operator, status="REFUNDED") == [shop["latte"]["id"]]
    assert listed(operator, status="CLOSED") == [shop["closed"]["id"]]
    assert len(listed(operator, status="all")) == 4
    assert listed(operator, status="nonsense") == paid  # an unknown choice: the default
    page = operator.get("/console/orders").text
    assert '<option value="NOTPAY">Unpaid</option>' in page
    assert '<option value="paid" selected>' in page


def test_search_by_number_transaction_id_and_product_name(shop, operator):
    pour_over, latte = shop["pour_over"], shop["latte"]
    for term in (pour_over["out_trade_no"], pour_over["transaction_id"], f"#{pour_over['id']}"):
        assert listed(operator, q=term) == [pour_over["id"]], term
    assert listed(operator, q="手冲") == [pour_over["id"]]  # part of 手冲咖啡
    assert listed(operator, q="手冲", status="all") == sorted(
        [pour_over["id"], shop["closed"]["id"]]
    )
    assert listed(operator, q="latte") == [latte["id"]]  # ASCII case folds on both databases
    assert listed(operator, q="LATTE", status="NOTPAY") == [shop["unpaid"]["id"]]
    # LIKE's wildcards are plain characters in a search.
    for term in ("%", "_", "手冲%", "\\"):
        assert listed(operator, q=term) == [], term


def test_needs_attention_is_one_count_everywhere_and_no_badge_at_zero(app, admin):
    page = admin.get("/console/attention").text
    assert 'class="count"' not in page  # nothing waits: no red 0 anywhere
    assert 'class="count"' not in admin.get("/console/").text
    with app.app_context():
        factories.refused_payment(factories.paid_order())
        factories.refund_request(factories.paid_order())  # decided under Refund requests
    overview = admin.get("/console/").text
    attention = admin.get("/console/attention").text
    assert '<span class="count" data-count="attention">1</span>' in overview  # the nav badge
    assert 'Needs attention <span class="count">1</span></h2>' in overview
    assert 'Needs attention <span class="count">1</span></h1>' in attention
    assert '<span class="count" data-count="refund-requests">1</span>' in overview
    assert "1</strong> refund request to decide" in overview
    assert 'Refused payment messages <span class="count">1</span>' in attention
    assert "Reconciliation differences</h2>" in attention  # none: no badge


def test_hostile_search_terms_answer_a_page_never_a_5xx(shop, operator):
    """Unicode digits (superscripts, Arabic-Indic) and a number past the id column's range are
    searched as text: no order has them. A NUL byte no column can hold is refused, saying so."""
    pour_over = shop["pour_over"]
    for term in ("²", "#²", "٣", "#٣", "9" * 20, "#" + "9" * 20, "#2147483648"):
        assert listed(operator, q=term, status="all") == [], repr(term)
        export = operator.get(
            "/console/exports/orders.csv", query_string={"q": term, "status": "all"}
        )
        assert export.status_code == 200 and len(export.text.splitlines()) == 1, repr(term)
    for term in ("\x00", "#\x00", "42\x00"):
        page = operator.get("/console/orders", query_string={"q": term, "status": "all"})
        assert page.status_code == 200, repr(term)
        assert "Search: It has characters that cannot be searched for." in page.text
        export = operator.get("/console/exports/orders.csv", query_string={"q": term})
        assert export.status_code == 302, repr(term)  # back to Exports, saying why
        assert "cannot be searched for" in operator.get(export.location).text
    assert listed(operator, q=f"#{pour_over['id']}") == [pour_over["id"]]  # still found
