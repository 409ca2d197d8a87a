"""The DMZ rule at run time: the gateway process loads no store or offload code.

`lint-imports` (contracts in pyproject.toml) checks the static import graph; this test checks
what the real entry point (`journeys gateway serve`: the whole CLI, the settings and the app)
actually has in ``sys.modules``, which also catches imports done lazily inside functions.
"""

from __future__ import annotations

import subprocess
import sys


def test_the_gateway_process_loads_no_store_code_and_has_no_store_settings() -> None:
    code = (
        "import os, sys\n"
        "os.environ['JOURNEYS_GATEWAY_API_KEYS'] = 'k3y-for-the-import-graph-test'\n"
        "from cli.app import app\n"
        "from api import GatewaySettings, create_app\n"
        "settings = GatewaySettings()\n"
        "create_app(settings)\n"
        "assert 'api.main' in sys.modules\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('store', 'offload'))\n"
        "fields = [name for name in settings.model_dump() if 'store' in name]\n"
        "fields += [name for name in settings.kafka.model_dump() if 'store' in name]\n"
        "print(','.join(loaded + fields))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
