"""The console's languages: Simplified Chinese by default, English on a switch.

Flask-Babel translates with the gettext catalogues in ``translations/`` (the ``.po`` files are
the source, committed; ``make translations`` compiles them to ``.mo``, which are build output).
The language of a page is, in order:

1. the logged-in staff member's own choice (``StaffUser.language``, set with the switch at the
   top of every page, or ``flask staff create --language``);
2. before logging in: the choice made with the login page's switch (kept in the session), else
   the browser's Accept-Language (any ``zh-*`` is Chinese, any ``en-*`` English);
3. Simplified Chinese.

Why ``zh_Hans`` and not ``zh_CN``: the catalogue is a script (Simplified), not a country, and
Babel resolves ``zh_CN`` to ``zh_Hans_CN``, so a ``zh_CN`` folder would never be found and every
page would silently stay in English; ``zh_Hans`` is looked up as itself.

Only the console's texts go through here: the API's messages and codes stay English.
"""

import logging
from pathlib import Path

from flask import has_request_context, request, session
from flask_login import current_user

from ..extensions import babel
from ..models.staff import CHINESE, ENGLISH
from ..models.staff import LANGUAGES as CODES

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = CHINESE
# Each language in its own words: the switch shows them like this in every language.
LANGUAGES = {CHINESE: "简体中文", ENGLISH: "English"}
assert set(LANGUAGES) == set(CODES)
# The primary subtag of an Accept-Language entry -> our language.
BY_PRIMARY_TAG = {"zh": CHINESE, "en": ENGLISH}
SESSION_KEY = "language"


def init_app(app):
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_language)
    # {% trans %} blocks ignore line breaks and indentation (babel.cfg extracts them so too).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    missing = [
        po
        for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
        if not po.with_suffix(".mo").exists()
    ]
    if missing:
        # The console would show English msgids, not Chinese: say how to fix it.
        log.warning(
            "the console's translations are not compiled (%s): run `make translations`, or "
            "`pybabel compile -d server/console/translations` where the app is installed",
            ", ".join(po.parent.parent.name for po in missing),
        )


def select_language():
    """The language of this request (Flask-Babel's locale selector)."""
    if not has_request_context():
        return DEFAULT
    if current_user.is_authenticated:
        return current_user.language if current_user.language in LANGUAGES else DEFAULT
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return from_accept_language(request.accept_languages) or DEFAULT


def from_accept_language(accepted):
    """The first language of ours the browser accepts, by preference; None when none is."""
    for tag, _quality in accepted:  # werkzeug sorts them by quality
        language = BY_PRIMARY_TAG.get(tag.replace("_", "-").split("-")[0].lower())
        if language:
            return language
    return None


def html_lang(language):
    """The BCP 47 tag for <html lang>: zh-Hans, en."""
    return language.replace("_", "-")
