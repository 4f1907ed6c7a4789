"""Helpers the ops tests import by a name of their own (`from conftest import ...` finds whichever
conftest.py pytest loaded first when several test folders are run together)."""
from __future__ import annotations

import os
import subprocess


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def clean_env() -> dict[str, str]:
    """This process's environment without the hub's own settings (each test sets what it needs)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("HUB_", "SUPPORT_API", "DAGSTER_HOME", "RUNTIME__"))}
