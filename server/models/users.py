"""The mini program's users and their API tokens."""

from ..extensions import db
from ..timeutil import utcnow


class User(db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    openid = db.Column(db.String(64), nullable=False, unique=True)
    unionid = db.Column(db.String(64))
    # Kept to decrypt open data (phone number etc.) later; never sent to the client.
    session_key = db.Column(db.String(64))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)


class AuthToken(db.Model):
    """Our own login token. Only its SHA-256 is stored, so a database leak reveals none."""

    __tablename__ = "auth_tokens"

    token_hash = db.Column(db.String(64), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    expires_at = db.Column(db.DateTime(timezone=True), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
