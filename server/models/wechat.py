"""What we keep of WeChat's server APIs: the access token, shared by every worker."""

from ..extensions import db
from ..timeutil import utcnow


class AccessToken(db.Model):
    """The mini program's access token, one row per appid, shared by every worker and instance.

    ``refresh_claimed_until`` lets one caller at a time fetch a new token (a compare-and-set
    claim); the others wait for it instead of asking WeChat too.
    """

    __tablename__ = "wechat_access_tokens"

    appid = db.Column(db.String(32), primary_key=True)
    token = db.Column(db.String(512))
    expires_at = db.Column(db.DateTime(timezone=True))
    refresh_claimed_until = db.Column(db.DateTime(timezone=True))
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
