"""The shop's staff: console accounts, the audit log of what they did, and their notes on what
needed a person."""

import json

from flask_login import UserMixin

from ..extensions import db
from ..timeutil import utcnow

ADMIN, OPERATOR = "admin", "operator"
CASHIER = "cashier"  # takes payments at the counter and prints receipts; nothing else
ROLES = (ADMIN, OPERATOR, CASHIER)
# The console's languages (server/console/i18n.py): Simplified Chinese is the default.
CHINESE, ENGLISH = "zh_Hans", "en"
LANGUAGES = (CHINESE, ENGLISH)


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_users"

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(255), nullable=False, unique=True)
    password_hash = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(16), nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    failed_logins = db.Column(db.Integer, nullable=False, default=0)
    locked_until = db.Column(db.DateTime(timezone=True))
    # Part of the session's user id: changing it (new password, disabled) ends every session.
    session_token = db.Column(db.String(32), nullable=False)
    last_login_at = db.Column(db.DateTime(timezone=True))
    # The console's language for this person (the switch at the top of every page).
    language = db.Column(db.String(16), nullable=False, default=CHINESE, server_default=CHINESE)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    # The second factor (TOTP, RFC 6238): the shared secret once enrolment is confirmed, the one
    # being enrolled, and the last time step used (a code is accepted once).
    totp_secret = db.Column(db.String(64))
    totp_pending = db.Column(db.String(64))
    totp_last_step = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    # A service provider's console: limited to one store's orders, refunds and
    # reconciliation (server/stores.py); None sees every store.
    store = db.Column(db.String(26))

    __table_args__ = (
        db.CheckConstraint("role IN ('admin', 'operator', 'cashier')", name="role_known"),
    )

    @property
    def is_active(self):  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_admin(self):
        return self.role == ADMIN

    def get_id(self):
        return f"{self.id}:{self.session_token}"


class AuditLog(db.Model):
    """Every staff action, who did it, when, and from which address. Kept forever."""

    __tablename__ = "audit_log"

    id = db.Column(db.Integer, primary_key=True)
    actor = db.Column(db.String(255), nullable=False)  # a staff email, or "cli"
    action = db.Column(db.String(64), nullable=False, index=True)  # e.g. order.close
    target = db.Column(db.String(128))  # e.g. order:42
    details = db.Column(db.Text, nullable=False, default="{}")  # JSON; never secrets
    ip = db.Column(db.String(45))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow, index=True)

    def details_dict(self):
        return json.loads(self.details or "{}")


class Resolution(db.Model):
    """A person's note on something that needed one (a refused payment, an ABNORMAL refund):
    one row per item, unique, so an item is resolved once."""

    __tablename__ = "attention_resolutions"

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(32), nullable=False)
    target_id = db.Column(db.Integer, nullable=False)
    note = db.Column(db.Text, nullable=False)
    resolved_by = db.Column(db.String(255), nullable=False)
    resolved_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (db.UniqueConstraint("kind", "target_id"),)


class StaffSession(db.Model):
    """A staff member's logged-in browser (server/domain/staff_sessions.py). The cookie carries
    a random token; only its SHA-256 is stored, so the table cannot be replayed as cookies."""

    __tablename__ = "staff_sessions"

    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    user_agent = db.Column(db.String(512), nullable=False)
    address = db.Column(db.String(45), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_seen_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    # When the password (or a second-factor code) was last typed in this session.
    fresh_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    ended_at = db.Column(db.DateTime(timezone=True))
    end_reason = db.Column(db.String(32))  # logout, expired, user_agent, address, ended_by, ...


class RecoveryCode(db.Model):
    """A second-factor recovery code: its SHA-256 (the codes are 80 random bits), used once."""

    __tablename__ = "staff_recovery_codes"

    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"), nullable=False, index=True)
    code_hash = db.Column(db.String(64), nullable=False, unique=True)
    used_at = db.Column(db.DateTime(timezone=True))


class StaffToken(db.Model):
    """A POS terminal's API token (server/domain/staff_tokens.py): it acts for one cashier
    account, as a cashier, at the counter's JSON endpoints only. The token is shown once; only
    its random key (to find the row) and an Argon2id hash of its secret are stored."""

    __tablename__ = "staff_tokens"

    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"), nullable=False, index=True)
    name = db.Column(db.String(64), nullable=False)  # the terminal, e.g. "Till 2"
    key = db.Column(db.String(16), nullable=False, unique=True)
    secret_hash = db.Column(db.String(128), nullable=False)
    # The store of the account when the token was made (a service provider's), or None: the
    # token is refused once the account is moved to another store.
    store = db.Column(db.String(26))
    created_by = db.Column(db.String(255), nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime(timezone=True))
    revoked_at = db.Column(db.DateTime(timezone=True))
    revoked_by = db.Column(db.String(255))
