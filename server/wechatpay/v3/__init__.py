"""WeChat Pay API v3: signed JSON requests, verified responses and notifications.

No Flask and no database here: ``V3Gateway`` takes plain values and parsed keys, so it can be
lifted into another project. Keys are parsed once by the caller and the HTTP session is shared,
so connections are reused across calls.

``client.V3Client`` is the core every product uses (signing, verifying answers and
notifications, decrypting, platform keys, failover); each product is a class of its own
module, mixed in below. A new product is a new module and one more base class here.
"""

from ..core.types import Gateway
from .app import App
from .bills import Bills
from .client import V3Client
from .codepay import Codepay
from .h5 import H5
from .jsapi import Jsapi
from .native import Native
from .partner import Partner, PartnerBills
from .refunds import Refunds
from .transactions import Transactions


class V3Gateway(
    Jsapi,
    Codepay,
    Native,
    H5,
    App,
    Transactions,
    Refunds,
    Bills,
    V3Client,
    Gateway,
):
    """The Gateway protocol over API v3 (direct merchant, JSAPI)."""


class V3PartnerGateway(
    Partner,
    PartnerBills,
    Jsapi,
    Codepay,
    Native,
    H5,
    App,
    Transactions,
    Refunds,
    Bills,
    V3Client,
    Gateway,
):
    """The Gateway protocol over API v3 for a service provider (``v3/partner.py``): the
    direct products' calls with the provider's ids, its keys, each use bound to a
    sub-merchant (``types.bound``)."""
