"""Checks for values that cross a trust boundary: text that can be stored and sent on.

Python strings may hold lone UTF-16 surrogates (JSON's ``"\\ud800"`` decodes to one); such a
string cannot be encoded as UTF-8, so it fails in the database driver or an outbound request
long after it was accepted. NUL (``"\\u0000"``) is valid UTF-8 but PostgreSQL's text columns
refuse it. These checks refuse both where they enter.
"""

import re

ASCII_DIGITS = re.compile(r"[0-9]+")


def encodes_as_utf8(value):
    """True when every string in ``value`` (nested dicts and lists, keys too) is valid UTF-8
    without NUL: text every database column and every outbound call can take.

    Iterative, so a deeply nested value cannot exhaust the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
            if "\x00" in item:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def is_ascii_number(value):
    """A string of ASCII digits 0-9 only (``str.isdigit`` also accepts "１", "٣", "²")."""
    return isinstance(value, str) and ASCII_DIGITS.fullmatch(value) is not None


# WeChat's documented lengths, which are also our columns' (models.py): a signed message
# with a longer value is refused here, not by the database.
MAX_OUT_TRADE_NO = 32
MAX_TRANSACTION_ID = 32
MAX_ID = 32  # appid, mchid
MAX_OPENID = 128
MAX_EVENT_ID = 64  # v3 notification id (a UUID in practice)
MAX_EVENT_TYPE = 48
MAX_TEXT = 256  # descriptions, times: read, never stored alone
TRADE_STATE = re.compile(r"[A-Z_]{1,16}")


def text(data, name, max_length, required=False):
    """``data[name]`` as a string of at most ``max_length`` characters; None when absent.

    ValueError (naming the field, never its value) for a list, a number, an object, an
    over-long string or one that is not valid Unicode.
    """
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} is missing")
        return None
    if not isinstance(value, str) or len(value) > max_length or not encodes_as_utf8(value):
        raise ValueError(f"{name} is not a string of at most {max_length} characters")
    return value


def trade_state(data, name="trade_state"):
    value = text(data, name, 16, required=True)
    if not TRADE_STATE.fullmatch(value):
        raise ValueError(f"{name} is not a trade state")
    return value
