"""The audit log: every staff action, who did it, when, and from which address. Kept forever.

``record`` commits its own row, after the action it describes has committed (or been refused):
an entry is never lost with a rolled-back action, nor written for one that never happened.
"""

import json

from .extensions import db
from .models import utcnow


class AuditLog(db.Model):
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


def record(actor, action, target=None, details=None, ip=None):
    entry = AuditLog(
        actor=actor,
        action=action,
        target=target,
        ip=ip,
        details=json.dumps(details or {}, ensure_ascii=False, default=str),
    )
    db.session.add(entry)
    db.session.commit()
    return entry
