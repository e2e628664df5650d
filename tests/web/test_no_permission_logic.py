"""The web pages hold no permission logic: they call the services with the signed-in
principal and show what the services refuse. A page that opens a transaction (``pbx.tx()``)
or asks a permission question itself (``permissions.check``, ``Action``, ``is_admin``...)
would decide on its own what the API, the CLI and the control socket leave to the services.

What the frame shows (the admin console, the portal menus, the preferences a user may edit)
comes from ``permissions.menu_for``; which page an extension opens in from
``permissions.opens_editor``."""

from __future__ import annotations

import ast
from pathlib import Path

import klapka.web

WEB = Path(klapka.web.__file__).parent

# What a page must not call, read or import: the permission checks and the transaction.
CALLS = {
    "tx": "opens a transaction",
    "check": "checks a permission",
    "allowed": "asks a permission question",
    "require_admin": "checks a permission",
    "admin_only": "checks a permission",
    "effective_for": "reads the permission rules",
    "effective": "reads the permission rules",
    "visible_clause": "filters by visibility",
    "can_view_company": "checks contact access",
    "can_manage_company": "checks contact access",
    "contact_access": "checks contact access",
    "require_phonebook_admin": "checks a permission",
}
READS = {"is_admin": "decides by the role", "tx": "opens a transaction"}
NAMES = {"Action": "names a permission", "Checker": "checks permissions"}


def findings(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in CALLS:
                found.append(f"{where}: {name}() {CALLS[name]}")
        elif isinstance(node, ast.Attribute) and node.attr in READS:
            found.append(f"{where}: .{node.attr} {READS[node.attr]}")
        elif isinstance(node, ast.Name) and node.id in NAMES:
            found.append(f"{where}: {node.id} {NAMES[node.id]}")
        elif isinstance(node, ast.ImportFrom) and node.module == "klapka.services.permissions":
            for alias in node.names:
                if alias.name in CALLS or alias.name in NAMES:
                    found.append(f"{where}: imports {alias.name}")
    return found


def test_no_web_module_checks_permissions_or_opens_a_transaction() -> None:
    modules = sorted(WEB.glob("*.py"))
    assert len(modules) > 5
    found = [f for m in modules for f in findings(m.read_text(), m.name)]
    assert not found, "permission logic in the web UI (move it into the service):\n" + "\n".join(
        found
    )


def test_the_scan_finds_what_it_is_for() -> None:
    page = (
        "from klapka.services.permissions import Action, check\n"
        "def run(ctx, p):\n"
        "    with ctx.pbx.tx() as repo:\n"
        "        permissions.check(repo.conn, p, Action.ADMINISTER)\n"
        "    return p.is_admin\n"
    )
    found = "\n".join(findings(page, "page.py"))
    for what in ("tx()", "check()", "Action names", ".is_admin", "imports check"):
        assert what in found, (what, found)
