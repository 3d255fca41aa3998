"""WeChat Pay API v2: XML requests and responses signed with the merchant's API key.

For legacy merchants; v3 is the default. ``V2Gateway`` answers in the same gateway data classes
as v3, so the rest of the backend never branches on the version. No Flask and no database here.

``client.V2Client`` is the core every product uses (signing, checking answers, the mutual-TLS
session, failover); ``messages`` is the XML form and the field formats. Each product is a class
of its own module, mixed in below. A new product is a new module and one more base class here.
"""

from ..core.types import Gateway
from .app import App
from .bills import Bills
from .client import V2Client
from .codepay import Codepay
from .h5 import H5
from .jsapi import Jsapi
from .native import Native
from .partner import PartnerFields
from .refunds import Refunds
from .transactions import Transactions


class V2Gateway(
    Jsapi,
    Codepay,
    Native,
    H5,
    App,
    Transactions,
    Refunds,
    Bills,
    V2Client,
    Gateway,
):
    """The Gateway protocol over API v2 (direct merchant, JSAPI / mini program).

    v2 has no call to send an ABNORMAL refund again: ``apply_abnormal_refund`` raises
    Unsupported (the merchant does it on the merchant platform)."""


class V2PartnerGateway(
    PartnerFields,
    Jsapi,
    Codepay,
    Native,
    H5,
    App,
    Transactions,
    Refunds,
    Bills,
    V2Client,
    Gateway,
):
    """The Gateway protocol over API v2 for a service provider (``v2/partner.py``): the
    direct products' calls with the partner fields, the provider's appid, mch_id and API key,
    each use bound to a sub-merchant."""
