"""``flask --app server seed``: the demo catalogue."""

import click
from flask import current_app

from ..channels import all_stores
from ..domain.catalogue import seed_catalogue
from . import common


@common.command("seed")
@click.option(
    "--dev", is_flag=True, help="also the one-fen test item (development and go-live testing only)"
)
def seed(dev):
    """Load the demo catalogue (adds only missing products, with their pictures); a service
    provider's: for each store (WECHATPAY_STORES)."""
    stores = [store.name for store in all_stores()] or None
    added = seed_catalogue(dev=dev, media_dir=current_app.config["MEDIA_DIR"], stores=stores)
    click.echo(f"added {added} products")


COMMANDS = (seed,)
