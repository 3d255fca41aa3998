"""Delivery addresses: what the user gives, checked once, kept on the order as a copy. No Flask:
the mini program's API and the web shop's checkout read the same fields through ``parse``.

The fields are those of ``wx.chooseAddress`` (userName, telNumber, provinceName, cityName,
countyName, detailInfo) under shorter names:

    {"name": "张三", "phone": "13800005678", "province": "广东省", "city": "广州市",
     "district": "海珠区", "detail": "新港中路397号"}

Refusals are DomainErrors with stable codes and the field named (never its value):
ADDRESS_REQUIRED (none given where a product ships), INVALID_ADDRESS (not an object, a field
missing, too long, or with control characters) and INVALID_PHONE (not a mainland number).

The phone is kept in full, because the carrier needs it (SF Express takes the recipient's or
the sender's phone with the parcel); anything listing orders or logging shows ``mask(phone)``.
"""

import re
import unicodedata
from dataclasses import asdict, dataclass

from sqlalchemy import exists, update

from ..errors import DomainError
from ..extensions import db
from ..models import Order, Shipment

# Characters of each field. A Chinese name rarely passes 10 characters, a minority or foreign
# one may; 200 for the street address fits any real one and bounds what a label prints.
MAX_LENGTHS = {"name": 32, "phone": 20, "province": 32, "city": 32, "district": 32, "detail": 200}
REQUIRED = ("name", "phone", "province", "city", "detail")  # some cities have no district
FIELDS = tuple(MAX_LENGTHS)

# Mainland numbers: a mobile (11 digits starting 13-19) or a landline with its area code
# (0 and 2-3 digits, then 7-8 digits). Spaces and dashes are dropped and a +86 / 86 country
# code removed before matching; what is stored is the digits alone.
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LANDLINE = re.compile(r"0[1-9][0-9]{1,2}[0-9]{7,8}")
_SEPARATORS = re.compile(r"[\s\-()]")

# Unicode categories refused anywhere in a field: control characters (Cc: NUL, newlines, ESC),
# format characters (Cf: zero-width and bidirectional overrides, which make a label or a
# console page show something other than what is stored), unpaired surrogates (Cs), private
# use (Co), unassigned (Cn), and line or paragraph separators (Zl, Zp).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True)
class Address:
    name: str
    phone: str  # digits only
    province: str
    city: str
    district: str  # "" when the city has none
    detail: str

    def to_json(self):
        return asdict(self)

    def one_line(self):
        """The address as a label prints it: 广东省广州市海珠区新港中路397号."""
        return f"{self.province}{self.city}{self.district}{self.detail}"


def invalid(field, reason, message):
    return DomainError("INVALID_ADDRESS", message, field=field, reason=reason)


def parse(value):
    """The ``Address`` in ``value`` (a dict of the fields above), or a DomainError."""
    if not isinstance(value, dict):
        raise invalid("address", "not_an_object", "'address' must be an object")
    fields = {}
    for name in FIELDS:
        raw = value.get(name, "")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise invalid(name, "not_text", f"'address.{name}' must be a string")
        if any(unicodedata.category(c) in REFUSED_CATEGORIES for c in raw):
            raise invalid(
                name, "control_characters", f"'address.{name}' has control or invisible characters"
            )
        text = " ".join(raw.split())  # ordinary spaces collapsed; nothing else changed
        if len(text) > MAX_LENGTHS[name]:
            raise invalid(
                name, "too_long", f"'address.{name}' is longer than {MAX_LENGTHS[name]} characters"
            )
        if not text and name in REQUIRED:
            raise invalid(name, "missing", f"'address.{name}' is required")
        fields[name] = text
    fields["phone"] = phone_digits(fields["phone"])
    return Address(**fields)


def phone_digits(text):
    """A mainland phone number as digits: 13800005678, 02012345678; INVALID_PHONE otherwise."""
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not (MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits)):
        raise DomainError(
            "INVALID_PHONE",
            "'address.phone' must be a mainland mobile number (11 digits) or a landline with "
            "its area code",
            field="phone",
        )
    return digits


def mask(phone):
    """138****5678: enough to tell two orders apart and to match the last 4 digits a customer
    reads out, not enough to call. Empty for no phone."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def columns(address):
    """The order's columns for ``address``."""
    return {
        "recipient_name": address.name,
        "recipient_phone": address.phone,
        "recipient_province": address.province,
        "recipient_city": address.city,
        "recipient_district": address.district,
        "recipient_detail": address.detail,
    }


def change(order, address):
    """Send the order's goods to ``address`` instead: while it is unpaid, or paid and nothing
    has been recorded as shipped. One conditional UPDATE, so a shipment recorded (or a payment
    refunded) at the same moment is never given a changed address half-way. Commits.

    ADDRESS_NOT_CHANGEABLE (with the order's status) otherwise: shipped, closed, refunded, or
    an order of nothing that ships.
    """
    orders = Order.__table__
    shipped = exists().where(Shipment.__table__.c.order_id == orders.c.id)
    # The order's row lock first, as record_shipment takes it before adding a shipment: on
    # PostgreSQL the UPDATE below then runs (with a fresh snapshot) after any shipment
    # recorded at the same moment has committed, and sees it. SQLite has one writer anyway.
    db.session.execute(db.select(orders.c.id).where(orders.c.id == order.id).with_for_update())
    result = db.session.execute(
        update(orders)
        .where(
            orders.c.id == order.id,
            orders.c.ships.is_(True),
            (orders.c.status == Order.NOTPAY) | ((orders.c.status == Order.PAID) & ~shipped),
        )
        .values(**columns(address))
    )
    db.session.commit()
    db.session.refresh(order)
    if result.rowcount != 1:
        reason = "shipped" if order.shipment is not None else order.status
        raise DomainError(
            "ADDRESS_NOT_CHANGEABLE",
            "the address can be changed while the order is unpaid, or paid and not shipped"
            if order.ships
            else "nothing in this order ships",
            order_id=order.id,
            order_status=order.status,
            reason=reason if order.ships else "does_not_ship",
        )
    return order
