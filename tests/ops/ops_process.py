"""Helpers the ops tests import by a name of their own (`from conftest import ...` finds whichever
conftest.py pytest loaded first when several test folders are run together)."""
from __future__ import annotations

import subprocess


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result
