"""``flask --app server shipping ...``: record shipping, look orders up, run the job."""

import json

import click
from flask import current_app

from ..clients import miniprogram_api
from ..domain import addresses, shipping
from ..domain.jobs import exclusive
from ..errors import DomainError
from ..extensions import db
from ..models import Order, Shipment
from ..wechatpay.core.errors import ApiError, TransportError
from . import common


@common.group("shipping")
def group():
    """Shipping info for WeChat (小程序发货信息管理)."""


@group.command("ship")
@click.argument("order_id", type=int)
@click.option(
    "--logistics",
    type=click.Choice(sorted(shipping.LOGISTICS_TYPES)),
    required=True,
    help="express, local (same-city), virtual or pickup",
)
@click.option(
    "--package",
    "packages",
    multiple=True,
    metavar="TRACKING_NO:CARRIER",
    help="express: one per parcel (several = a split delivery), e.g. SF123:SF",
)
@click.option("--item-desc", help="what was shipped (default: the order's description)")
@click.option(
    "--receiver-contact",
    help="masked phone, e.g. 189****1234 (SF Express needs one; default: the order's recipient)",
)
@click.option("--consignor-contact", help="masked phone of the sender")
@click.option("--not-all-delivered", is_flag=True, help="a split delivery with parcels to come")
def ship(
    order_id, logistics, packages, item_desc, receiver_contact, consignor_contact, not_all_delivered
):
    """Record what was shipped for ORDER_ID and upload it (again: WeChat's one change)."""
    order = _order(order_id)
    every = {
        "item_desc": item_desc or order.description,
        # The order's recipient, masked as WeChat takes it (SF Express needs a phone).
        "receiver_contact": receiver_contact or addresses.mask(order.recipient_phone) or None,
        "consignor_contact": consignor_contact,
    }
    parcels = [
        {**every, "tracking_no": no, "express_company": carrier}
        for no, _, carrier in (p.partition(":") for p in packages)
    ] or [every]
    shipment = shipping.record_shipment(
        order,
        api=miniprogram_api(),
        logistics=logistics,
        packages=parcels,
        by="cli",
        all_delivered=not not_all_delivered,
    )
    click.echo(
        f"order {order_id}: {shipment.status}"
        + (f" ({shipment.error_code}: {shipment.error_message})" if shipment.error_code else "")
    )
    if shipment.status == Shipment.FAILED:  # WeChat refused it: correct it and ship again
        raise common.Refused(shipment.error_code or "UPLOAD_FAILED", "WeChat refused the upload")
    if shipment.status != Shipment.SHIPPED:  # recorded; `shipping sync` uploads it
        raise common.TryLater(
            shipment.error_code or "UPLOAD_PENDING", "not uploaded yet; `shipping sync` retries"
        )


@group.command("status")
@click.argument("order_id", type=int)
def status(order_id):
    """Ask WeChat (get_order) how far ORDER_ID is: shipped, received, settled."""
    order = _order(order_id)
    if not order.transaction_id:
        raise click.ClickException("the order is not paid")
    wechat = _wechat(lambda: shipping.refresh(order, api=miniprogram_api()))
    state = wechat.get("order_state")
    click.echo(
        f"order {order_id}: WeChat order_state {state} "
        f"({shipping.WECHAT_STATES.get(state, 'unknown')})"
    )
    click.echo(json.dumps(wechat.get("shipping", {}), ensure_ascii=False, indent=2))


@group.command("managed")
def managed():
    """Whether WeChat manages this mini program's shipping (and freezes its money until then)."""
    if _wechat(lambda: shipping.is_trade_managed(miniprogram_api())):
        click.echo(
            "yes: WeChat holds the money of paid orders until their shipping is "
            "uploaded and received; run `shipping sync` from the timer"
        )
    else:
        click.echo("no: this mini program is not under shipping management; uploading is optional")


@group.command("sync")
def sync():
    """The job: upload pending shipments (and virtual goods with SHIPPING_AUTO_VIRTUAL=true),
    and refresh WeChat's view of shipped orders."""
    with exclusive("shipping-sync") as ours:
        if not ours:  # a second upload of one shipment would spend WeChat's one change
            click.echo("shipping sync is running on another instance; skipped")
            return
        counts = shipping.run_job(
            api=miniprogram_api(),
            auto_virtual=current_app.config["SHIPPING_AUTO_VIRTUAL"] == "true",
        )
    click.echo(f"shipping: {counts}")
    common.exit_for_job(counts, failed=(Shipment.PENDING, Shipment.FAILED))


def _order(order_id):
    order = db.session.get(Order, order_id)
    if order is None:
        raise DomainError("ORDER_NOT_FOUND", f"no order {order_id}")
    return order


def _wechat(call):
    try:
        return call()
    except (ApiError, TransportError) as exc:
        raise common.wechat_failure(exc) from None


COMMANDS = (group,)
