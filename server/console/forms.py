"""The console's forms (Flask-WTF: each carries its CSRF token) and yuan <-> fen.

Staff type money in yuan; it is stored in fen. The conversion is exact (Decimal, at most two
decimal places), so "0.1" is 10 fen and "0.001" or "1e3" is a form error, never a rounding.
"""

import re
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, Optional, ValidationError

from ..wechatpay.checks import encodes_as_utf8
from . import labels

YUAN = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
MAX_FEN = 10**9  # ten million yuan: far above any one order, far below an int32's limit


def yuan_to_fen(text):
    """Fen for a yuan amount typed by a person; ValueError with the reason when it is not one."""
    text = (text or "").strip().replace(",", "")
    if not YUAN.fullmatch(text):
        raise ValueError(_("Enter an amount in yuan, like 12.50 (at most two decimals)."))
    fen = int(Decimal(text) * 100)
    if not 0 < fen <= MAX_FEN:
        raise ValueError(_("The amount must be more than 0 and at most 10,000,000 yuan."))
    return fen


def fen_to_yuan(fen):
    """'12.50' for 1250: the format staff type amounts in."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


class YuanField(StringField):
    """A money field: typed in yuan, ``.fen`` holds the validated integer."""

    fen = None

    def pre_validate(self, form):
        try:
            self.fen = yuan_to_fen(self.data)
        except ValueError as exc:
            self.fen = None
            raise ValidationError(str(exc)) from None


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class NoteForm(FlaskForm):
    note = TextAreaField(
        _l("Note"), validators=[DataRequired(message=_l("A note is required.")), Length(max=1000)]
    )


class RefundForm(FlaskForm):
    amount = YuanField(_l("Amount (yuan)"))
    reason = StringField(
        _l("Reason"), validators=[DataRequired(message=_l("A reason is required.")), Length(max=80)]
    )
    # Set by the confirmation page: the first submission only shows what will happen.
    confirmed = BooleanField()
    # The refund's number, chosen when the confirmation page was shown: one decision, one refund.
    out_refund_no = HiddenField(validators=[Optional(), Length(max=64)])


class DecideRequestForm(FlaskForm):
    """Approve (all that is left, or part of it) or reject a user's refund request."""

    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=200)])
    amount = StringField(_l("Amount to refund (yuan)"), validators=[Optional(), Length(max=16)])


ABNORMAL_TYPES = {
    "MERCHANT_BANK_CARD": _l("To the merchant's bank card (then pay the payer yourself)"),
    "USER_BANK_CARD": _l("To the payer's bank card"),
}
# WeChat's bank types for USER_BANK_CARD (the bank_type of apply-abnormal-refund).
BANK_TYPE = re.compile(r"[A-Z0-9_]{2,32}")


class AbnormalRefundForm(FlaskForm):
    """Send an ABNORMAL refund again (API v3): to the merchant's bank card, or to the payer's
    with the card's bank, number and holder. The card number and name are sent encrypted
    with WeChat Pay's public key; they are never logged, stored, audited or shown back."""

    type = StringField(
        _l("Where to send it"),
        validators=[AnyOf(list(ABNORMAL_TYPES), message=_l("Pick where to send it."))],
    )  # radio buttons of ABNORMAL_TYPES
    bank_type = StringField(
        _l("Bank (WeChat's bank type, e.g. ICBC_DEBIT)"), validators=[Optional(), Length(max=32)]
    )
    bank_account = StringField(_l("Card number"), validators=[Optional(), Length(max=32)])
    real_name = StringField(_l("Card holder's name"), validators=[Optional(), Length(max=64)])
    checked = BooleanField(
        _l("I have checked these details with the payer"),
        validators=[DataRequired(message=_l("Confirm that the details were checked."))],
    )

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if self.type.data != "USER_BANK_CARD":
            return valid
        bank_type = (self.bank_type.data or "").strip().upper()
        if not BANK_TYPE.fullmatch(bank_type):
            self.bank_type.errors.append(_("Give the bank's type code, e.g. ICBC_DEBIT."))
            valid = False
        if not re.fullmatch(r"[0-9]{8,32}", (self.bank_account.data or "").replace(" ", "")):
            self.bank_account.errors.append(_("Give the card number: 8 to 32 digits."))
            valid = False
        if not (self.real_name.data or "").strip():
            self.real_name.errors.append(_("Give the card holder's name."))
            valid = False
        return valid

    def bank_details(self):
        """The keyword arguments of refunds.apply_abnormal_refund for this form."""
        if self.type.data != "USER_BANK_CARD":
            return {}
        return {
            "bank_type": self.bank_type.data.strip().upper(),
            "bank_account": self.bank_account.data.replace(" ", ""),
            "real_name": self.real_name.data.strip(),
        }

    def forget(self):
        """Never send the card number or the name back to the browser."""
        self.bank_account.data = self.real_name.data = None


class ProductForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=500)])
    price = YuanField(_l("Price (yuan)"))
    active = BooleanField(_l("On sale"), default=True)
    ships = BooleanField(_l("Ships to the customer"), default=False)
    # Checked, re-encoded and resized by server/domain/images.py (JPEG, PNG or WebP, 5 MB).
    image = FileField(_l("Picture"))


def searchable(form, field):
    """A search term no column can hold (NUL, broken Unicode) is refused, not searched for."""
    if field.data and not encodes_as_utf8(field.data):
        raise ValidationError(_("It has characters that cannot be searched for."))


class OrderFilterForm(FlaskForm):
    """The orders list's filters (a GET form: no CSRF token needed, nothing changes)."""

    class Meta:
        csrf = False

    status = StringField(_l("Status"), validators=[Optional(), Length(max=16)])  # a <select>
    channel = StringField(_l("Channel"), validators=[Optional(), Length(max=32)])  # a <select>
    # A service provider's store (a <select>): its orders, whichever way they were paid.
    store = StringField(_l("Store"), validators=[Optional(), Length(max=26)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    q = StringField(_l("Search"), validators=[Optional(), Length(max=64), searchable])


class ExportForm(FlaskForm):
    """A date range of Beijing days, both included (a GET form: nothing changes)."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[DataRequired(message=_l("Pick a day."))])
    end = DateField(_l("To"), validators=[DataRequired(message=_l("Pick a day."))])

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if valid and self.end.data < self.start.data:
            self.end.errors.append(_("The last day comes before the first."))
            valid = False
        return valid


class ReconcileForm(FlaskForm):
    """Run the reconciliation of one Beijing day (again)."""

    day = DateField(_l("Beijing day"), validators=[DataRequired(message=_l("Pick a day."))])


class ParcelForm(Form):
    """One parcel of an express delivery (a sub-form: the page's form carries the token)."""

    tracking_no = StringField(_l("Tracking number"), validators=[Optional(), Length(max=128)])
    express_company = StringField(_l("Carrier code"), validators=[Optional(), Length(max=128)])


LOGISTICS = labels.LOGISTICS  # value -> its name, in the staff member's language


class ShippingForm(FlaskForm):
    logistics = StringField(
        _l("Logistics"), validators=[AnyOf(list(LOGISTICS), message=_l("Pick how it was shipped."))]
    )  # a <select> of LOGISTICS
    parcels = FieldList(FormField(ParcelForm), min_entries=3, max_entries=15)
    item_desc = StringField(
        _l("What was shipped"),
        validators=[DataRequired(message=_l("Say what was shipped.")), Length(max=120)],
    )
    receiver_contact = StringField(
        _l("Receiver phone (masked)"), validators=[Optional(), Length(max=64)]
    )
    consignor_contact = StringField(
        _l("Sender phone (masked)"), validators=[Optional(), Length(max=64)]
    )
    all_delivered = BooleanField(_l("Everything is shipped"), default=True)
