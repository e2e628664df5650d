"""The innermost packages import only what their place allows, checked on the source: every
import statement, also one inside a function. klapka.kemi runs inside Kamailio's embedded
Python, klapka.routing is what it runs, klapka.domain is the configuration's models. The
dependency rule between all of klapka's packages is import-linter's ([tool.importlinter] in
pyproject.toml, run by scripts/test.sh); this test also holds kemi and routing to the
standard library, which import-linter does not look into, and keeps every import of klapka
at module level, where a reader sees the module's dependencies."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

SRC = Path(__file__).resolve().parent.parent / "src"


def imports(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in the module at ``path`` (relative ones resolved);
    ``source``: its text, if not the file's."""
    package = ".".join(path.relative_to(SRC).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    text = path.read_text("utf-8") if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "klapka":  # `from klapka import web` imports klapka.web
                for alias in node.names:
                    yield node.lineno, f"klapka.{alias.name}"
            else:
                yield node.lineno, module


def stdlib(module: str) -> bool:
    return module == "__future__" or module.partition(".")[0] in sys.stdlib_module_names


def inside(*packages: str) -> Callable[[str], bool]:
    return lambda m: any(m == p or m.startswith(p + ".") for p in packages)


def violations(package: str, allowed: Callable[[str], bool]) -> list[str]:
    root = SRC.joinpath(*package.split("."))
    files = sorted(root.rglob("*.py"))
    assert files, f"no modules in {root}"
    return [
        f"{path.relative_to(SRC)}:{line}: {module}"
        for path in files
        for line, module in imports(path)
        if not allowed(module)
    ]


def kemi_allows(module: str) -> bool:
    return stdlib(module) or module == "KSR" or inside("klapka.routing", "klapka.kemi")(module)


def routing_allows(module: str) -> bool:
    return stdlib(module) or inside("klapka.routing")(module)


def domain_allows(module: str) -> bool:
    return not inside("klapka")(module) or inside("klapka.domain", "klapka.routing")(module)


def test_kemi_imports_only_the_standard_library_ksr_and_klapka_routing() -> None:
    """Kamailio's embedded interpreter has the standard library, Kamailio's own ``KSR``
    and klapka's source: no third-party package, nothing of klapka that needs one."""
    assert violations("klapka.kemi", kemi_allows) == []


def test_routing_imports_only_the_standard_library() -> None:
    assert violations("klapka.routing", routing_allows) == []


def test_domain_imports_no_klapka_but_routing() -> None:
    """Third-party packages (pydantic) are fine; of klapka only the routing engine, whose
    dial patterns the configuration is validated with (one parser for both)."""
    assert violations("klapka.domain", domain_allows) == []


def test_an_import_kemi_may_not_have_is_found_also_inside_a_function() -> None:
    probe = SRC / "klapka" / "kemi" / "probe.py"
    source = (
        "import json\nimport KSR\nfrom . import load\n\n\n"
        "def f() -> None:\n    import sqlalchemy\n    from klapka import store\n"
        "    from ..routing import engine\n"
    )
    found = sorted(m for _, m in imports(probe, source) if not kemi_allows(m))
    assert found == ["klapka.store", "sqlalchemy"]
    assert not [m for _, m in imports(probe, "import pydantic\n") if routing_allows(m)]


# Function-local imports of klapka that are there for a reason; any other would hide an edge
# of the dependency graph from whoever reads the module's imports.
LOCAL_IMPORTS_ALLOWED = {
    # Alembic, imported only by the commands that read or upgrade the schema.
    ("klapka/cli.py", "klapka.store.migrate"),
    # FastAPI and NiceGUI take about a second to import; only `klapka serve` needs them.
    ("klapka/cli.py", "klapka.api.app"),
    ("klapka/cli.py", "klapka.api.provisioning"),  # the HTTPS listener for phones
    ("klapka/cli.py", "klapka.web"),
    # The pages (`from klapka.web import admin, ...`) register themselves with NiceGUI when
    # imported: only when a UI is mounted.
    ("klapka/web/__init__.py", "klapka.web"),
}


def local_imports(path: Path) -> Iterator[tuple[int, str]]:
    """Imports inside a function or class of the module at ``path``."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    scopes += [n for n in tree.body if isinstance(n, ast.ClassDef)]
    seen: set[int] = set()
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in seen:
                seen.add(id(node))
                yield from _names(node)


def _names(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield node.lineno, alias.name
    elif node.module == "klapka":
        for alias in node.names:
            yield node.lineno, f"klapka.{alias.name}"
    elif node.module and not node.level:
        yield node.lineno, node.module


def test_klapka_is_imported_at_module_level() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {module}"
        for path in sorted((SRC / "klapka").rglob("*.py"))
        for line, module in local_imports(path)
        if inside("klapka")(module)
        and (str(path.relative_to(SRC)), module) not in LOCAL_IMPORTS_ALLOWED
    ]
    assert found == []
