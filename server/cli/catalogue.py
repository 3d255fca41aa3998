"""``flask --app server seed``: the demo catalogue."""

import click

from ..channels import all_stores
from ..domain.catalogue import seed_catalogue
from . import common


@common.command("seed")
@click.option(
    "--dev", is_flag=True, help="also the one-fen test item (development and go-live testing only)"
)
def seed(dev):
    """Load the demo catalogue (adds only missing products); a service provider's: for each
    store (WECHATPAY_STORES)."""
    stores = [store.name for store in all_stores()] or None
    click.echo(f"added {seed_catalogue(dev=dev, stores=stores)} products")


COMMANDS = (seed,)
