"""What the shop's staff see of delivery addresses and product pictures (SQLite and
PostgreSQL): the order's page shows the address and prefills the shipping form with the
phone as WeChat takes it; lists show the phone masked and find it by its last 4 digits;
the export has the address and is audited; a picture is refused unless it is one, resized
and served with a long cache; a product says whether it ships."""

import csv
import io
import re

import pytest
from PIL import Image

from server.domain import images
from server.extensions import db
from server.models import AuditLog, Order, Product
from tests.support import factories

ROW = re.compile(r'<a href="/console/orders/(\d+)" class="mono">')


@pytest.fixture
def addressed(app):
    """A paid order of beans for 张三 (13800005678) and a paid coffee without an address."""
    with app.app_context():
        beans = factories.product("云南咖啡豆", 6800)
        order = factories.paid_order(items=[(beans, 1)])
        db.session.execute(
            db.update(Order)
            .where(Order.id == order.id)
            .values(
                ships=True,
                recipient_name="张三",
                recipient_phone="13800005678",
                recipient_province="广东省",
                recipient_city="广州市",
                recipient_district="海珠区",
                recipient_detail="新港中路397号",
            )
        )
        db.session.commit()
        coffee = factories.paid_order()
        return {"beans": order.id, "coffee": coffee.id}


def listed(client, **query):
    page = client.get("/console/orders", query_string=query)
    assert page.status_code == 200
    return page.text, sorted(int(found) for found in ROW.findall(page.text))


def test_the_order_page_shows_the_address_and_prefills_the_phone(addressed, admin):
    page = admin.get(f"/console/orders/{addressed['beans']}").text
    assert "Delivery address" in page
    assert "张三" in page and "13800005678" in page
    assert "广东省广州市海珠区新港中路397号" in page
    # WeChat's shipping upload takes the phone masked, last 4 digits clear (SF Express).
    assert re.search(r'id="receiver_contact"[^>]*value="138\*\*\*\*5678"', page)
    coffee = admin.get(f"/console/orders/{addressed['coffee']}").text
    assert "Delivery address" not in coffee
    assert not re.search(r'id="receiver_contact"[^>]*value="[^"]', coffee)


def test_lists_mask_the_phone_and_find_its_last_four_digits(addressed, operator):
    page, ids = listed(operator)
    assert ids == sorted(addressed.values())
    assert "138****5678" in page and "13800005678" not in page
    assert listed(operator, q="5678")[1] == [addressed["beans"]]
    assert listed(operator, q="0000")[1] == []  # the middle digits find nothing
    assert listed(operator, q="8000")[1] == []


def test_the_export_has_the_address_and_is_audited(addressed, app, operator):
    response = operator.get("/console/exports/orders.csv", query_string={"q": "5678"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-3:] == ["Recipient", "Recipient phone", "Delivery address"]
    assert len(rows) == 2
    assert rows[1][-3:] == ["张三", "13800005678", "广东省广州市海珠区新港中路397号"]
    with app.app_context():
        entry = db.session.execute(
            db.select(AuditLog).order_by(AuditLog.id.desc()).limit(1)
        ).scalar_one()
        assert entry.action == "export.orders" and "5678" in entry.details


def picture(kind="PNG", size=(1200, 800), color=(200, 120, 40, 128)):
    out = io.BytesIO()
    mode = "RGBA" if kind == "PNG" else "RGB"
    Image.new(mode, size, color[: len(mode)]).save(out, kind)
    return out.getvalue()


def upload(admin, product_id, data, filename="beans.png", **fields):
    form = {
        "name": "云南咖啡豆",
        "description": "顺丰寄送",
        "price": "68.00",
        "active": "y",
        **fields,
        "image": (io.BytesIO(data), filename),
    }
    return admin.post(f"/console/catalogue/{product_id}", form, content_type="multipart/form-data")


def test_a_picture_is_checked_resized_and_served(app, admin, tmp_path):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    with app.app_context():
        product_id = db.session.execute(db.select(Product.id).limit(1)).scalar()

    refused = upload(admin, product_id, b"#!/bin/sh\necho not a picture\n", "beans.png")
    assert refused.status_code == 400
    assert "This file is not a picture" in refused.text
    too_big = upload(admin, product_id, b"\xff\xd8" + b"0" * images.MAX_BYTES, "big.jpg")
    assert too_big.status_code == 400 and "over 5 MB" in too_big.text
    gif = io.BytesIO()
    Image.new("P", (10, 10)).save(gif, "GIF")
    assert "Only JPEG, PNG and WebP" in upload(admin, product_id, gif.getvalue(), "a.gif").text
    with app.app_context():
        assert db.session.get(Product, product_id).image is None  # nothing kept
    assert not list((tmp_path / "media").glob("**/*.jpg"))

    saved = upload(admin, product_id, picture(), ships="y")
    assert saved.status_code == 302, saved.text
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product.ships is True and re.fullmatch(r"[0-9a-f]{32}", product.image)
        key = product.image
    client = app.test_client()
    for size, pixels in images.SIZES.items():
        served = client.get(f"/media/products/{key}-{size}.jpg")
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        resized = Image.open(io.BytesIO(served.data))
        assert resized.format == "JPEG" and max(resized.size) == pixels
        assert resized.size[0] / resized.size[1] == pytest.approx(1.5, rel=0.02)
    assert client.get("/media/products/nope.jpg").status_code == 404
    assert client.get("/media/../server/config.py").status_code == 404

    listing = client.get("/api/products").get_json()["products"]
    shown = next(p for p in listing if p["id"] == product_id)
    assert shown["ships"] is True
    assert shown["image"]["medium"] == f"http://localhost/media/products/{key}-medium.jpg"
    catalogue = admin.get("/console/catalogue").text
    assert f"/media/products/{key}-thumb.jpg" in catalogue


def test_a_hidden_product_is_kept_but_not_sold(app, admin):
    with app.app_context():
        product_id = db.session.execute(db.select(Product.id).limit(1)).scalar()
    form = {"name": "手冲咖啡", "description": "", "price": "18.00"}  # "On sale" unticked
    assert admin.post(f"/console/catalogue/{product_id}", form).status_code == 302
    with app.app_context():
        assert db.session.get(Product, product_id).active is False
    listing = app.test_client().get("/api/products").get_json()["products"]
    assert product_id not in [p["id"] for p in listing]
