"""Rules of the layout that a review would otherwise have to catch.

server/domain/ has no Flask: its functions are called by the API, the console, the CLI and the
jobs alike, and get what they need from the app (the gateway, ids, settings) as arguments.
Checked on the source (the AST) rather than by importing: the database handle the domain uses,
``server.extensions.db``, is Flask-SQLAlchemy's, so Flask is in ``sys.modules`` whatever the
domain imports. The walk follows the domain's imports into the rest of ``server`` (wechatpay/,
wechat/, errors.py, ...), stopping only at that handle and the tables.
"""

import ast
import importlib
from pathlib import Path

import server

ROOT = Path(server.__file__).resolve().parent.parent
# The database: Flask-SQLAlchemy's handle and the tables built on it. The domain uses
# db.session and db.engine, never the app.
DATABASE = ("server.extensions", "server.models")
DOMAIN_MODULES = {
    "access_tokens",
    "addresses",
    "attention",
    "audit",
    "bills",
    "catalogue",
    "images",
    "jobs",
    "payments",
    "refunds",
    "shipping",
    "staff",
}


def module_file(name):
    """The source file of module ``name``, or None when it is not one of the repository's."""
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(name):
    """Every module ``name`` imports (absolute names), from its source."""
    path = module_file(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            found.add(base)
            # `from . import payments` imports a module; `from x import name` may too.
            found.update(
                f"{base}.{alias.name}"
                for alias in node.names
                if module_file(f"{base}.{alias.name}") is not None
            )
    return found


def flask_imports(start):
    """(importer, imported) for every Flask or Werkzeug import reachable from ``start``
    through the repository's own modules, not looking into the database handle."""
    seen, queue, found = set(), list(start), []
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imports_of(name):
            top = imported.split(".")[0]
            if top.startswith(("flask", "werkzeug")):
                found.append((name, imported))
            elif (
                module_file(imported) is not None
                and top in ("server", "sandbox")
                and not imported.startswith(DATABASE)
            ):
                queue.append(imported)
    return sorted(found)


def domain_modules():
    return sorted(
        f"server.domain.{path.stem}"
        for path in (ROOT / "server" / "domain").glob("*.py")
        if path.stem != "__init__"
    )


def test_every_domain_module_imports():
    names = domain_modules()
    assert {name.rpartition(".")[2] for name in names} >= DOMAIN_MODULES
    for name in names:
        importlib.import_module(name)


def test_the_domain_imports_no_flask():
    assert flask_imports(["server.domain", *domain_modules()]) == []


def test_the_check_finds_flask_where_it_is():
    # The surfaces are Flask's, directly or through what they import.
    assert ("server.api.orders", "flask") in flask_imports(["server.api.orders"])
    assert any(importer == "server.clients" for importer, _ in flask_imports(["server.clients"]))
