"""Helpers for the staff console's tests: staff accounts, and a logged-in test client."""

import re

from server.domain import staff
from server.extensions import db

PASSWORD = "correct horse battery staple"
ADMIN, OPERATOR = "admin@shop.test", "operator@shop.test"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
OUT_REFUND_NO = re.compile(r'name="out_refund_no" value="([^"]+)"')


def make_staff(app, email, role, password=PASSWORD, language="en"):
    """A staff account. English, unlike the console's default (Chinese): most tests read the
    pages' English texts; tests/console/test_languages.py covers the Chinese console."""
    with app.app_context():
        staff.create(email, role, password, language=language)
        db.session.remove()
    return email


def csrf_token(html):
    return CSRF.search(html).group(1)


class ConsoleClient:
    """A Flask test client that logs in and posts forms with the page's CSRF token."""

    def __init__(self, app, accept_language="en"):
        self.app = app
        self.client = app.test_client()
        if accept_language:  # the login page's language (the console's own default is Chinese)
            self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept_language

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def login(self, email, password=PASSWORD, code=None):
        """Log in; with ``code``, also answer the second-factor step (an enrolled account)."""
        token = csrf_token(self.get("/console/login").text)
        answer = self.client.post(
            "/console/login", data={"email": email, "password": password, "csrf_token": token}
        )
        if code is not None and "/console/login/code" in (answer.location or ""):
            token = csrf_token(self.get("/console/login/code").text)
            answer = self.client.post(
                "/console/login/code", data={"code": code, "csrf_token": token}
            )
        return answer

    def token(self, page="/console/"):
        return csrf_token(self.get(page).text)

    def refund(self, order_id, amount, reason, **kwargs):
        """The refund form as a person uses it: the confirmation page, then its button (which
        carries the refund's number). The answer to the button's POST."""
        path, data = f"/console/orders/{order_id}/refund", {"amount": amount, "reason": reason}
        confirm = self.post(path, data)
        number = OUT_REFUND_NO.search(confirm.text).group(1)
        return self.post(path, {**data, "confirmed": "y", "out_refund_no": number}, **kwargs)

    def post(self, path, data=None, token=True, **kwargs):
        data = dict(data or {})
        if token is True:
            data["csrf_token"] = self.token()
        elif token:
            data["csrf_token"] = token
        return self.client.post(path, data=data, **kwargs)


def staffed(stack):
    """An admin and an operator on a live stack, each logged in with a client of their own."""
    make_staff(stack.app, ADMIN, "admin")
    make_staff(stack.app, OPERATOR, "operator")
    admin, operator = ConsoleClient(stack.app), ConsoleClient(stack.app)
    admin.login(ADMIN)
    operator.login(OPERATOR)
    return admin, operator
