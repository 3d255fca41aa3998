"""The audit log: every staff action, who did it, when, and from which address. Kept forever.

``record`` commits its own row, after the action it describes has committed (or been refused):
an entry is never lost with a rolled-back action, nor written for one that never happened.
"""

import json

from ..extensions import db
from ..models import AuditLog


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
