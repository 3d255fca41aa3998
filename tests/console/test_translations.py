"""The console's translations are complete: every text marked in its code and templates (as
`make messages` extracts them with babel.cfg) has a Simplified Chinese translation, with the
same placeholders; every code and state staff see has a label; the catalogues are compiled;
and the pages, rendered in Chinese, show no English sentence that was never marked."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from server import errors
from server.console import labels, messages
from server.domain import bills
from server.models import Order, ReconciliationRun, Refund, RefundRequest, Shipment
from tests.support import factories
from tests.support.console import ConsoleClient, make_staff

pytestmark = pytest.mark.database_agnostic

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "server" / "console" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def extracted():
    """{msgid: where} of every text marked for translation, extracted as `make messages` does."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords={**KEYWORDS, "N_": None, "pgettext": ((1, "c"), 2)},
    ):
        if "/." in f"/{filename}" or filename.startswith(("node_modules", "tests")):
            continue
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def catalogue(language):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po)


def test_every_marked_text_has_a_chinese_translation():
    chinese = catalogue("zh_Hans")
    missing = []
    for message, where in sorted(extracted().items(), key=lambda item: str(item[0])):
        entry = chinese.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry else None
        if isinstance(strings, str):
            strings = (strings,)
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(f"{where}: {message!r}")
    assert not missing, (
        "texts without a Chinese translation (run `make messages`, translate them in "
        "server/console/translations/zh_Hans/LC_MESSAGES/messages.po, then `make "
        "translations`):\n" + "\n".join(missing)
    )


def test_the_catalogues_hold_exactly_the_marked_texts_with_the_same_placeholders():
    marked = {m[0] if isinstance(m, tuple) else m for m in extracted()}
    for language in ("zh_Hans", "en"):
        po = catalogue(language)
        ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in po if m.id}
        assert ids - marked == set(), f"{language}: stale entries (run `make messages`)"
        assert marked - ids == set(), f"{language}: missing entries (run `make messages`)"
        # python-format placeholders: %(name)s in the msgid must be in the msgstr, and no other.
        problems = [(m.id, [str(e) for e in errs]) for m, errs in po.check()]
        assert problems == [], problems
    assert catalogue("zh_Hans").plural_forms == "nplurals=1; plural=0;"


def test_the_catalogues_are_compiled():
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} is missing: run `make translations`"
        assert mo.stat().st_mtime >= po.stat().st_mtime, f"{mo} is older: `make translations`"


def test_every_code_staff_see_has_a_label():
    assert set(errors.STATUS) <= set(messages.TEXTS), set(errors.STATUS) - set(messages.TEXTS)
    for model, table in (
        (Order, labels.ORDER_STATES),
        (Refund, labels.REFUND_STATES),
        (RefundRequest, labels.REQUEST_STATES),
        (Shipment, labels.SHIPMENT_STATES),
        (ReconciliationRun, labels.RUN_STATES),
    ):
        states = {v for k, v in vars(model).items() if k.isupper() and isinstance(v, str)}
        assert states <= set(table), (model.__name__, states - set(table))
    kinds = {v for k, v in vars(bills).items() if k == v and not k.startswith("ROUND")}
    assert len(kinds) >= 8 and kinds <= set(labels.DIFFERENCE_KINDS), kinds
    # Every audit action the code writes has a name.
    written = set()
    for path in (ROOT / "server").rglob("*.py"):
        text = path.read_text()
        written |= set(re.findall(r'\baudit\(\s*"([a-z_.]+)"', text))
        written |= set(re.findall(r'\brecord\(\s*[^,]+,\s*"([a-z_.]+)"', text))
    written |= {"refund_request.approve", "refund_request.reject"}  # f"refund_request.{...}"
    assert written, "no audit actions found"
    assert written <= set(labels.AUDIT_ACTIONS), written - set(labels.AUDIT_ACTIONS)


# --- the pages, in Chinese ------------------------------------------------------------------

# English that may stay: codes, names of things, what a person types.
ALLOWED = re.compile(
    r"flask --app server staff create|admin@shop\.test|zh@shop\.test|pay\.weixin\.qq\.com|"
    r"ICBC_DEBIT|UTF-8|Excel|CSV|openid|appid|ABNORMAL|English|WeChat Pay|"
    r"order\.close|SF, YTO, ZTO|factory refund|[a-z:]*[a-z.]+@shop\.test"
)
# Two words of English in a row (codes in capitals, like TRANSACTION.SUCCESS, may stay).
WORD = r"[A-Za-z]*[a-z][A-Za-z]*"
TWO_WORDS = re.compile(rf"\b{WORD}[ ,;:.'’-]+{WORD}\b")


def visible_text(html):
    """What a person reads: no tags, attributes, scripts, <code> or <pre>, nor title hovers."""
    html = re.sub(r"<(pre|code|script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"&[a-z#0-9]+;", " ", html)


def test_every_page_in_chinese_has_no_untranslated_sentence(app):
    make_staff(app, "zh@shop.test", "admin", language="zh_Hans")
    with app.app_context():
        coffee = factories.product("手冲咖啡", 1800)
        order = factories.paid_order(items=[(coffee, 2)])
        factories.refund(order, 500)
        abnormal = factories.refund(factories.paid_order(), 800, status=Refund.ABNORMAL)
        factories.refund_request(factories.paid_order())
        factories.refused_payment(factories.paid_order())
        factories.shipped_order()
        order_id, abnormal_id = order.id, abnormal.id
    client = ConsoleClient(app, accept_language=None)
    login = client.get("/console/login").text
    assert '<html lang="zh-Hans">' in login and "登录" in login
    client.login("zh@shop.test")
    pages = [
        "/console/",
        "/console/orders",
        "/console/orders?status=all",
        f"/console/orders/{order_id}",
        f"/console/orders/{order_id}/refund",
        "/console/orders/5",
        "/console/refund-requests",
        "/console/attention",
        f"/console/refunds/{abnormal_id}/apply-abnormal",
        "/console/reconciliation",
        "/console/catalogue",
        "/console/catalogue/1",
        "/console/catalogue/new",
        "/console/audit",
        "/console/exports",
        "/console/no-such-page",
    ]
    found = {}
    for path in pages:
        page = client.get(path)
        assert page.status_code in (200, 404), path
        text = ALLOWED.sub(" ", visible_text(page.text))
        english = TWO_WORDS.findall(text)
        if english:
            found[path] = english
    assert found == {}, f"English left on the Chinese pages: {found}"
