"""Takings per Beijing day (SQLite and PostgreSQL): payments on the day they were paid,
refunds on the day they were paid back, net the difference; and the overview's chart of the
last 30 days, an SVG drawn on the server."""

import re
from datetime import UTC, datetime, time, timedelta

from server.console import takings
from server.domain.bills import beijing_today
from server.extensions import db
from server.models import Order, Refund
from server.timeutil import CHINA
from tests.support import factories


def beijing(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=CHINA).astimezone(UTC)


def test_takings_per_beijing_day_net_of_refunds(app):
    today = beijing_today()
    yesterday = today - timedelta(days=1)
    with app.app_context():
        coffee = factories.product("手冲咖啡", 1800)
        # 23:50 and 00:10 Beijing time: different days there, the same day in UTC.
        late = factories.paid_order(items=[(coffee, 1)], paid_at=beijing(yesterday, 23, 50))
        factories.paid_order(items=[(coffee, 2)], paid_at=beijing(today, 0, 10))
        old = factories.paid_order(items=[(coffee, 1)], paid_at=beijing(today - timedelta(40), 9))
        refund = factories.refund(late, 500)  # paid back today
        refund.succeeded_at = beijing(today, 0, 5)
        factories.refund(old, 1800)  # an old order refunded today: today's takings go down
        factories.refund(late, 300, status=Refund.PROCESSING)  # not paid back yet
        db.session.commit()
        days = takings.takings(today - timedelta(days=29), today)
    assert len(days) == 30 and days[0].day == today - timedelta(days=29)
    by_day = {d.day: d for d in days}
    assert (by_day[yesterday].paid, by_day[yesterday].refunded, by_day[yesterday].orders) == (
        1800,
        0,
        1,
    )
    assert (by_day[today].paid, by_day[today].refunded, by_day[today].net) == (3600, 2300, 1300)
    assert sum(d.paid for d in days) == 5400  # the 40-day-old order is outside
    assert by_day[today].by_channel == {"miniprogram": {"paid": 3600, "refunded": 2300}}


def test_a_counter_order_reversed_after_it_was_paid_counts_on_no_day(app, admin):
    today = beijing_today()
    with app.app_context():
        coffee = factories.product("手冲咖啡", 1800)
        factories.paid_order(items=[(coffee, 1)], paid_at=beijing(today, 0, 5))
        reversed_ = factories.paid_order(items=[(coffee, 2)], paid_at=beijing(today, 0, 2))
        reversed_.status, reversed_.closed_at = Order.REVOKED, beijing(today, 0, 6)
        db.session.commit()
        days = takings.takings(today - timedelta(days=29), today)
    assert (days[-1].paid, days[-1].refunded, days[-1].orders) == (1800, 0, 1)
    page = admin.get("/console/").text
    assert '<span class="value" data-stat="paid-today">¥18.00</span>' in page
    assert '<span class="value" data-stat="paid-week">¥18.00</span>' in page


def test_the_overview_draws_the_chart_and_todays_gross_and_net(app, admin):
    today = beijing_today()
    with app.app_context():
        coffee = factories.product("手冲咖啡", 1800)
        order = factories.paid_order(items=[(coffee, 2)], paid_at=beijing(today, 0, 1))
        factories.refund(order, 1000)
        factories.paid_order(items=[(coffee, 1)], paid_at=beijing(today - timedelta(3), 12))
    page = admin.get("/console/").text
    assert '<span class="value" data-stat="paid-today">¥36.00</span>' in page
    assert '<span data-stat="net-today">¥26.00</span>' in page
    svg = re.search(r'<svg class="chart".*?</svg>', page, re.S).group(0)
    bars = re.findall(r'data-day="([0-9-]+)" data-paid-fen="(\d+)" data-net-fen="(-?\d+)"', svg)
    assert len(bars) == 30 and bars[-1] == (today.isoformat(), "3600", "2600")
    assert (str(today - timedelta(3)), "1800", "1800") in bars
    assert f"{today.isoformat()}: paid ¥36.00, refunded ¥10.00, net ¥26.00 (1 order)" in svg
    assert "<script" not in page and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_a_day_with_more_refunded_than_paid_is_drawn_below_zero(app, admin):
    today = beijing_today()
    with app.app_context():
        old = factories.paid_order(paid_at=beijing(today - timedelta(60), 9))
        factories.refund(old, 1800)
    svg = admin.get("/console/").text
    assert f'data-day="{today.isoformat()}" data-paid-fen="0" data-net-fen="-1800"' in svg
    assert 'class="bar-negative"' in svg and "-¥18.00" in svg
