"""The web shop (server/web) as a browser uses it, over HTTP with a cookie session: add to the
cart, check out, read the order page and its status, scan the QR in the simulator."""

import re
from html import unescape

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE_URL = re.compile(r'data-code-url="([^"]+)"')
ORDER_PATH = re.compile(r"/shop/orders/(\d+)$")
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


class WebShopper:
    def __init__(self, stack, user_agent=DESKTOP_UA):
        self.stack = stack
        self.http = requests.Session()
        self.http.headers.update({"User-Agent": user_agent, "Accept-Language": "en"})

    def url(self, path):
        return self.stack.backend + path

    def get(self, path, **kwargs):
        return self.http.get(self.url(path), timeout=10, **kwargs)

    def post(self, path, data=None, **kwargs):
        page = self.get("/shop/")
        form = {"csrf_token": CSRF.search(page.text).group(1), **(data or {})}
        return self.http.post(self.url(path), data=form, timeout=10, **kwargs)

    def add(self, product_id=1, quantity=1):
        return self.post("/shop/cart", {"product_id": product_id, "quantity": quantity})

    def checkout(self):
        """Check the cart out; the order's id (from the page it lands on)."""
        response = self.post("/shop/checkout")
        assert response.status_code == 200, response.text
        return int(ORDER_PATH.search(response.url).group(1))

    def order_page(self, order_id):
        return self.get(f"/shop/orders/{order_id}")

    def code_url(self, order_id):
        page = self.order_page(order_id)
        found = CODE_URL.search(page.text)
        return unescape(found.group(1)) if found else None

    def status(self, order_id):
        return self.get(f"/shop/orders/{order_id}/status").json()


PAID_PART = re.compile(r'<div data-when="paid"( hidden)?>(.*?)\n  </div>', re.S)


def offers_refund(page):
    """Whether an order page, as served, shows the refund request form: it is in the part for
    a paid order (order.js reveals that part when its poll sees the payment), not hidden."""
    part = PAID_PART.search(page)
    assert part, "the order page has no part for a paid order"
    return "data-refund-request" in part.group(2) and not part.group(1)


def scan(stack, code_url):
    """The user scans the QR code with WeChat and pays (the simulator's scan page, as JSON)."""
    return requests.post(f"{stack.sandbox}/sandbox/scan", json={"code_url": code_url}, timeout=10)


PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI "
    "Language/zh_CN"
)


def h5_url(shopper, order_id, **headers):
    """Where the order page's "pay" button sends a phone's browser: WeChat's H5 cashier."""
    response = shopper.post(f"/shop/orders/{order_id}/h5", allow_redirects=False, headers=headers)
    assert response.status_code == 303, response.text
    return response.headers["Location"]


HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def sign_in_inside_wechat(shopper):
    """Open the shop with WeChat's user agent: the silent web authorisation, as WeChat's
    browser runs it (the simulator's page submits its form when the link ends in
    #wechat_redirect; here the form is posted directly)."""
    page = shopper.get("/shop/")
    assert "/connect/oauth2/authorize" in page.url, page.url
    fields = dict((name, unescape(value)) for name, value in HIDDEN.findall(page.text))
    back = shopper.http.post(page.url.split("#")[0], data=fields, timeout=10)
    assert back.url.startswith(shopper.url("/shop/")), back.url
    return back


def pay_inside_wechat(shopper, order_id):
    """getBrandWCPayRequest as WeChat's client does it (the simulator's stand-in): the page's
    signed parameters, checked (paySign, the payment directory), then paid."""
    page = shopper.order_page(order_id)
    token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    answer = shopper.http.post(
        shopper.url(f"/shop/orders/{order_id}/jsapi"), headers={"X-CSRFToken": token}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    params = answer.json()["pay_params"]
    request = {"params": params, "url": page.url}
    checked = requests.post(
        f"{shopper.stack.sandbox}/sandbox/bridge/check", data=json_text(request)
    )
    paid = requests.post(f"{shopper.stack.sandbox}/sandbox/bridge/pay", data=json_text(request))
    return params, checked.json(), paid.json()


def json_text(value):
    import json

    return json.dumps(value)
