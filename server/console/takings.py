"""Takings per Beijing day (paid in, refunded out, net) and the overview's chart of them: an
SVG drawn here, on the server (no JavaScript, nothing loaded from elsewhere).

A payment counts on the day it was paid, a refund on the day WeChat returned the money; net is
the one minus the other, so a day can be negative. A counter order reversed after it was paid
(撤销, ``REVOKED``: WeChat gave the money back as if the sale had not happened) counts on no
day: only money the shop kept is taken. Its paid time stays on the order (it was paid, and
is in that day's bill), so every sum of payments filters with ``KEPT``.

The sums are grouped by day and by way of paying: ``CHANNEL`` is the orders' channel column
once orders record it (the payment-channels work); until then there is one group (None), and
the chart adds the groups up. Online and counter takings apart (issue 21) is then a matter of
drawing the groups.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import func

from ..extensions import db
from ..models import Order, Refund
from .labels import yuan

DAYS = 30
# Payments the shop kept: every order with a paid time but a counter order reversed after it
# was paid (docs/counter.md). A refund, by contrast, is money out on the day it was made.
KEPT = Order.status != Order.REVOKED


@dataclass
class Day:
    day: object  # a date (Beijing)
    paid: int = 0  # fen
    refunded: int = 0
    orders: int = 0
    by_channel: dict = field(default_factory=dict)  # channel name -> {"paid", "refunded"}

    @property
    def net(self):
        return self.paid - self.refunded


def beijing_day(column):
    """The Beijing calendar day of a stored (UTC) time, in SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, "+8 hours")  # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS...'


def takings(first, last, *where):
    """[Day] for each Beijing day from ``first`` to ``last`` (both included), empty days too;
    ``where``: conditions on Order limiting the orders counted (a store's: ``Order.sub_mchid``)."""
    from .views import beijing_midnight  # the one definition of a Beijing day's start

    start, end = beijing_midnight(first), beijing_midnight(last + timedelta(days=1))
    days = {
        first + timedelta(days=n): Day(first + timedelta(days=n))
        for n in range((last - first).days + 1)
    }
    channel = Order.channel
    paid_day = beijing_day(Order.paid_at)
    for day, group, amount, count in db.session.execute(
        db.select(paid_day, channel, func.sum(Order.total), func.count())
        .where(Order.paid_at >= start, Order.paid_at < end, KEPT, *where)
        .group_by(paid_day, channel)
    ):
        row = days[_date(day)]
        row.paid += amount
        row.orders += count
        row.by_channel.setdefault(group, {"paid": 0, "refunded": 0})["paid"] += amount
    refund_day = beijing_day(Refund.succeeded_at)
    for day, group, amount in db.session.execute(
        db.select(refund_day, channel, func.sum(Refund.amount))
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.status == Refund.SUCCESS,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
            *where,
        )
        .group_by(refund_day, channel)
    ):
        row = days[_date(day)]
        row.refunded += amount
        row.by_channel.setdefault(group, {"paid": 0, "refunded": 0})["refunded"] += amount
    return list(days.values())


def _date(value):
    """SQLite's date() answers text, PostgreSQL's a date."""
    return date.fromisoformat(value) if isinstance(value, str) else value


# --- the chart ----------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 28


def chart(days):
    """An SVG bar chart of ``days``: each day's paid (light) and net (dark; red below zero)
    bars, yuan on the left axis, every fifth day named; each bar's numbers on hover."""
    high = max([d.paid for d in days] + [0])
    low = min([d.net for d in days] + [0])
    span = (high - low) or 100  # an empty month: an axis of ¥0 to ¥1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(fen):
        return TOP + plot_h * (high - fen) / span

    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1)
    parts = [
        Markup(
            '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            'aria-labelledby="takings-title" xmlns="http://www.w3.org/2000/svg">'
        ).format(w=WIDTH, h=HEIGHT),
        Markup('<title id="takings-title">{}</title>').format(
            _("Takings per day, the last %(days)s days", days=len(days))
        ),
    ]
    for fen in sorted({high, (high + low) // 2 if low < 0 else high // 2, low, 0}):
        parts.append(
            Markup(
                '<line class="grid" x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text x="{tx}" y="{ty:.1f}" text-anchor="end">{label}</text>'
            ).format(
                x1=LEFT, x2=WIDTH - RIGHT, y=y(fen), tx=LEFT - 6, ty=y(fen) + 4, label=yuan(fen)
            )
        )
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar) / 2
        tip = _(
            "%(day)s: paid %(paid)s, refunded %(refunded)s, net %(net)s (%(orders)s)",
            day=day.day.isoformat(),
            paid=yuan(day.paid),
            refunded=yuan(day.refunded),
            net=yuan(day.net),
            orders=ngettext("%(num)d order", "%(num)d orders", day.orders),
        )
        net_top, net_bottom = sorted((y(max(day.net, 0)), y(min(day.net, 0))))
        parts.append(
            Markup(
                '<g class="day" data-day="{day}" data-paid-fen="{paid}" data-net-fen="{net}">'
                "<title>{tip}</title>"
                '<rect class="bar-gross" x="{x:.1f}" y="{gy:.1f}" width="{w:.1f}" '
                'height="{gh:.1f}"/>'
                '<rect class="{cls}" x="{x:.1f}" y="{ny:.1f}" width="{w:.1f}" height="{nh:.1f}"/>'
                "</g>"
            ).format(
                day=day.day.isoformat(),
                paid=day.paid,
                net=day.net,
                tip=tip,
                x=x,
                w=bar,
                gy=y(day.paid),
                gh=y(0) - y(day.paid),
                cls="bar-net" if day.net >= 0 else "bar-negative",
                ny=net_top,
                nh=net_bottom - net_top,
            )
        )
        if index % 5 == 0 or index == len(days) - 1:
            parts.append(
                Markup('<text x="{x:.1f}" y="{y}" text-anchor="middle">{label}</text>').format(
                    x=x + bar / 2, y=HEIGHT - 8, label=day.day.strftime("%m-%d")
                )
            )
    parts.append(
        Markup('<line class="axis" x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>').format(
            x1=LEFT, x2=WIDTH - RIGHT, y=y(0)
        )
    )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
