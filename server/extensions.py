"""Extension objects, created unbound and attached to an app in ``create_app``."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints, so migrations can alter them on every database (SQLite included).
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# Objects keep their loaded values after a commit: a request that just wrote an order does not
# read it back (one SELECT per object). Code that needs the database's word re-reads explicitly
# (``db.session.refresh``), as the compare-and-set transitions leave loaded objects alone.
db = SQLAlchemy(metadata=metadata, session_options={"expire_on_commit": False})
migrate = Migrate(render_as_batch=True)

# The staff console's: sessions and CSRF on every console form.
login_manager = LoginManager()
csrf = CSRFProtect()
# The console's languages (server/console/i18n.py).
babel = Babel()
