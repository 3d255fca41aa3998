"""What the console says for each DomainError code, in the staff member's language.

The domain's messages are English and stay so for the API, the CLI and the logs; the console
shows the text of the error's code instead (``describe(exc)``), falling back to the English
message for a code this table lacks. tests/console/test_translations.py checks that every code
in ``server.errors.STATUS`` has a text here.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

TEXTS = {
    # The request
    "INVALID_REQUEST": _l("The request is not valid."),
    "BODY_TOO_LARGE": _l("The request is too large."),
    "UNAUTHORIZED": _l("Not logged in."),
    "RATE_LIMITED": _l("Too many requests; wait a moment and try again."),
    # Login (jscode2session)
    "INVALID_CODE": _l("WeChat did not accept the login code."),
    "LOGIN_BLOCKED": _l("WeChat blocked this login."),
    "CONFLICT": _l("Someone else changed this at the same moment; try again."),
    "WECHAT_ERROR": _l("WeChat refused the request."),
    "WECHAT_UNAVAILABLE": _l("WeChat did not answer; try again shortly."),
    # Checkout and orders
    "PRODUCT_NOT_FOUND": _l("There is no such product."),
    "ORDER_NOT_FOUND": _l("There is no such order."),
    "IDEMPOTENCY_KEY_REUSED": _l("This request was already used for another order."),
    "ORDER_NOT_PAYABLE": _l("The order can no longer be paid."),
    "ORDER_NOT_SHIPPED": _l("The order has not been shipped."),
    "ORDER_NOT_CANCELLABLE": _l("The order can no longer be cancelled."),
    # Delivery addresses and product pictures
    "ADDRESS_REQUIRED": _l("A product in the order ships: a delivery address is needed."),
    "INVALID_ADDRESS": _l("The delivery address is not valid."),
    "INVALID_PHONE": _l("The phone is not a mainland mobile or landline number."),
    "ADDRESS_NOT_CHANGEABLE": _l("The order's address can no longer change."),
    "INVALID_IMAGE": _l("The file is not a picture that can be used."),
    # Refund requests
    "REFUNDS_DISABLED": _l("Refund requests are turned off."),
    "ORDER_NOT_REFUNDABLE": _l("Only a paid order with money left to refund can be refunded."),
    "REFUND_WINDOW_PASSED": _l("The time to ask for a refund has passed."),
    "REQUEST_ALREADY_PENDING": _l("A refund request for this order is already waiting."),
    # WeChat Pay
    "WECHATPAY_ERROR": _l("WeChat Pay refused the request."),
    "WECHATPAY_UNAVAILABLE": _l("WeChat Pay did not answer; try again shortly."),
    "PAYMENTS_MISCONFIGURED": _l("Payments are not set up correctly (the server log says why)."),
    "PAYMENTS_NOT_CONFIGURED": _l("Payments are not configured on this server."),
    "CHANNEL_NOT_FOUND": _l("There is no such way to pay on this server."),
    "STORE_NOT_FOUND": _l("There is no such store on this server."),
    "CART_SPANS_STORES": _l("The products are sold by different stores: one order per store."),
    "STORE_REQUIRED": _l("Which store is this sale for? Ring up the store's products."),
    # WeChat's account of a payment or refund contradicts ours
    "MERCHANT_MISMATCH": _l("WeChat's answer is for another appid or merchant."),
    "AMOUNT_MISMATCH": _l("WeChat's amount differs from ours."),
    "REFUND_NOT_FOUND": _l("There is no such refund."),
    "ORDER_MISMATCH": _l("The refund belongs to another order."),
    "REFUND_ID_MISMATCH": _l("WeChat names another refund."),
    "STATUS_CONFLICT": _l("WeChat's state contradicts ours."),
    "TRANSACTION_ID_IN_USE": _l("WeChat's transaction already paid another order."),
    # Refunds the shop makes
    "INVALID_REFUND_NO": _l("That is not a refund number of this order."),
    "INVALID_AMOUNT": _l("The amount must be more than 0."),
    "TOO_MANY_REFUNDS": _l("WeChat Pay allows at most 50 refunds per order."),
    "EXCEEDS_REFUNDABLE": _l("That is more than is left to refund."),
    "REFUND_NOT_ABNORMAL": _l(
        "Only a refund WeChat could not pay out (ABNORMAL) can be sent again."
    ),
    "REQUEST_NOT_FOUND": _l("There is no such refund request."),
    "REQUEST_NOT_PENDING": _l("The refund request was already decided."),
    # Shipping
    "INVALID_SHIPPING": _l("The shipping details are not complete or not valid."),
    "ORDER_NOT_SHIPPABLE": _l("Only a paid order can be shipped."),
    "ALREADY_RECORDED": _l("The shipping is already recorded."),
    "CHANGE_NOT_ALLOWED": _l(
        "WeChat allows one change of an order's shipping, and it is used. Nothing was sent."
    ),
    # The counter (payment code)
    "AUTH_CODE_INVALID": _l(
        "That is not a WeChat payment code (18 digits starting 10 to 15): scan it again."
    ),
    "AUTH_CODE_USED": _l("This payment code was already used: ask for a fresh code."),
    "ORDER_NOT_REVERSIBLE": _l(
        "Only a paid counter order without refunds, within 7 days, can be reversed."
    ),
    "ORDER_NOT_CLOSABLE": _l(
        "A payment-code order is not closed: its payment settles it; reverse or refund it."
    ),
    # Bills and reconciliation
    "BILL_MALFORMED": _l("WeChat's bill could not be read."),
    "BILL_SUMMARY_MISMATCH": _l("WeChat's bill does not add up to its own summary."),
    "RUN_NOT_FOUND": _l("There is no such reconciliation."),
    "DIFFERENCE_NOT_FOUND": _l("There is no such difference."),
    "NO_BILL": _l("This day has no bill."),
    "NOTE_REQUIRED": _l("Write a note saying what was done."),
    "INVALID_INPUT": _l("The input is not valid."),
    "ALREADY_RESOLVED": _l("Someone resolved this already."),
    # Staff accounts
    "INVALID_EMAIL": _l("That is not an email address."),
    "INVALID_ROLE": _l("There is no such role."),
    "INVALID_LANGUAGE": _l("There is no such language."),
    "WEAK_PASSWORD": _l("A password needs at least 12 characters."),
    "STAFF_EXISTS": _l("That email already has an account."),
    "STAFF_NOT_FOUND": _l("There is no such account."),
    "BAD_CREDENTIALS": _l("Wrong email or password."),
    "LOCKED": _l("Too many failed logins: the account is locked for a while."),
    "DISABLED": _l("This account is disabled."),
    "BAD_CODE": _l("That code is not right, or it was already used."),
    "FORBIDDEN": _l("Your role does not allow this."),
    # A POS terminal's token
    "TOKEN_INVALID": _l("The terminal's token is not valid."),
    "TOKEN_REVOKED": _l("The terminal's token was revoked."),
    "TOKEN_NOT_ALLOWED": _l("A terminal's token reaches the counter's sales only."),
    # The mini program's message push (WeChat's callback)
    "PUSH_NOT_CONFIGURED": _l("Message push is not configured."),
    "PUSH_STALE": _l("The pushed message is too old."),
    "PUSH_NOT_ENCRYPTED": _l("The pushed message is not encrypted."),
    "PUSH_BAD_SIGNATURE": _l("The pushed message's signature is wrong."),
    "PUSH_UNDECRYPTABLE": _l("The pushed message cannot be decrypted."),
    "PUSH_WRONG_APPID": _l("The pushed message is for another appid."),
    "INVALID_PUSH": _l("The pushed message is not valid."),
}


# Codes whose domain message names the very field or line at fault: shown after the text.
DETAILED = {"INVALID_SHIPPING", "BILL_MALFORMED", "BILL_SUMMARY_MISMATCH", "INVALID_INPUT"}


def describe(exc):
    """The text of a DomainError for a person: by its code, in their language; a code without
    a text here keeps the domain's (English) message, with the code."""
    found = TEXTS.get(exc.code)
    if found is None:
        return _("%(message)s (%(code)s).", message=exc.message, code=exc.code)
    if exc.code in DETAILED:
        return _("%(text)s (%(detail)s)", text=str(found), detail=exc.message)
    return str(found)
