"""The shop's customers: a person, and each WeChat user (an openid under one appid) they pay as;
and the mini program's API tokens.

An openid belongs to one appid: the same person has one openid in the mini program, another in
the official account, another in a mobile app. So a ``User`` is one WeChat user under one appid,
unique per (appid, openid), created by a login (jscode2session today; the official account's
web authorisation next) with what WeChat said of them then (``unionid``, ``session_key``).

A ``Customer`` is the person behind one or more users. WeChat tells that two openids are one
person only through the unionid (given when the apps are bound to one open-platform account):
users with the same unionid belong to one customer, and a user whose unionid appears later is
merged into the customer that already has it (``server/domain/customers.py``); without a
unionid every user is a customer of their own. Orders keep the user who placed them (nullable:
a counter sale or a web guest has none) and, apart from the account, the payer's openid under
the order's appid (``Order.payer_openid``), which is what WeChat Pay knows.
"""

from ..extensions import db
from ..timeutil import utcnow


class Customer(db.Model):
    __tablename__ = "customers"

    id = db.Column(db.Integer, primary_key=True)
    # WeChat's id of the person across the apps of one open-platform account; one customer
    # per unionid.
    unionid = db.Column(db.String(64), unique=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    users = db.relationship("User", back_populates="customer", order_by="User.id")


class User(db.Model):
    """One WeChat user: an openid under one appid (the mini program's, an official account's)."""

    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id"), nullable=False, index=True)
    appid = db.Column(db.String(32), nullable=False)
    openid = db.Column(db.String(64), nullable=False)
    unionid = db.Column(db.String(64))
    # Kept to decrypt open data (phone number etc.) later; never sent to the client.
    session_key = db.Column(db.String(64))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    customer = db.relationship("Customer", back_populates="users")

    __table_args__ = (db.UniqueConstraint("appid", "openid"),)


class AuthToken(db.Model):
    """Our own login token. Only its SHA-256 is stored, so a database leak reveals none."""

    __tablename__ = "auth_tokens"

    token_hash = db.Column(db.String(64), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    expires_at = db.Column(db.DateTime(timezone=True), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
