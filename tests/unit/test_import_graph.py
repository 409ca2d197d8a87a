"""The DMZ rule: nothing under journeys/api imports journeys.store, directly or transitively."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import journeys

API_DIR = Path(journeys.__file__).parent / "api"


def _api_files() -> list[Path]:
    return sorted(API_DIR.rglob("*.py"))


def _imported_modules(path: Path, located_at: Path | None = None) -> set[str]:
    """Absolute names of what ``path`` imports (relative imports resolved as if it lived at
    ``located_at``, default its own place)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    where = located_at or path
    package = ".".join(where.relative_to(API_DIR.parent.parent).with_suffix("").parts)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: -node.level]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_api_package_exists() -> None:
    assert (API_DIR / "__init__.py").is_file()


def test_no_api_module_imports_the_store_directly() -> None:
    offenders = {
        str(path.relative_to(API_DIR.parent)): sorted(
            m
            for m in _imported_modules(path)
            if m == "journeys.store" or m.startswith("journeys.store.")
        )
        for path in _api_files()
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_importing_every_api_module_does_not_load_the_store() -> None:
    modules = [
        ".".join(path.relative_to(API_DIR.parent.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        )
        for path in _api_files()
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m == 'journeys.store' or m.startswith('journeys.store.'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_ast_check_would_catch_a_store_import(tmp_path: Path) -> None:
    sample = API_DIR / "routes" / "_probe_for_test.py"
    fake = tmp_path / "probe.py"
    fake.write_text("from journeys.store import StoreClient\nfrom ...store import client\n")
    found = _imported_modules(fake, located_at=sample)
    assert "journeys.store" in found
    assert "journeys.store.client" in found


def test_the_gateway_process_loads_no_store_code_and_has_no_store_settings() -> None:
    """What ``journeys gateway serve`` loads: the whole CLI, the settings and the app."""
    code = (
        "import os, sys\n"
        "os.environ['JOURNEYS_GATEWAY_API_KEYS'] = 'k3y-for-the-import-graph-test'\n"
        "from journeys.cli.app import app\n"
        "from journeys.api import GatewaySettings, create_app\n"
        "settings = GatewaySettings()\n"
        "create_app(settings)\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m.split('.')[:2] in (['journeys', 'store'], ['journeys', 'offload']))\n"
        "fields = [name for name in settings.model_dump() if 'store' in name]\n"
        "fields += [name for name in settings.kafka.model_dump() if 'store' in name]\n"
        "print(','.join(loaded + fields))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
