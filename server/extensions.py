"""Extension objects, created unbound and attached to an app in ``create_app``."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints, so migrations can alter them on every database (SQLite included).
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
db = SQLAlchemy(metadata=metadata)
migrate = Migrate(render_as_batch=True)

# The staff console's: sessions, CSRF on every console form, and login rate limiting.
login_manager = LoginManager()
csrf = CSRFProtect()
# Counts per client address (the real one: ProxyFix runs first behind nginx). In memory by
# default, in Redis when REDIS_URL is set, so that all gunicorn workers share the counts.
limiter = Limiter(key_func=get_remote_address)
