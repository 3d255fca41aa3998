"""The API contract: ``openapi.json`` beside this file (OpenAPI 3.1), served as is.

It is a static document, edited by hand when an endpoint changes: the tests check every
response they see against it (tests/contract.py) and fuzz the live API with it
(tests/test_fuzz.py), so it cannot drift from the code unnoticed.
"""

from pathlib import Path

from flask import Blueprint, current_app

bp = Blueprint("contract", __name__)

DOCUMENT = Path(__file__).resolve().parent / "openapi.json"


@bp.get("/api/openapi.json")
def openapi_document():
    return current_app.response_class(DOCUMENT.read_bytes(), mimetype="application/json")
