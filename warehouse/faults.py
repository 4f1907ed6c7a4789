"""Fault injection for the safe-publishing tests: die hard at a named point of a run.

`HUB_FAULT_INJECT=<point>[,<point>...]` makes the process `os._exit()` when it reaches that point,
the way a killed worker or a power cut would stop it: no `finally`, no rollback, no cleanup. Points:

- `after:stage:<silo>`       a silo's staging rows are published, the run goes no further
- `before:publish:identity`  resolution is computed, nothing of it published yet
- `during:publish:<table>`   inside a publishing transaction, right after <table> was rewritten
- `before:publish:marts`     golden records built and validated, not published yet

`pause:<point>` instead stops there (sleeps) after saying so on stderr, so a test can send a real
SIGKILL at exactly that point. Unset (the normal case) it costs one environment lookup.
"""
from __future__ import annotations

import os
import sys
import time

ENV = "HUB_FAULT_INJECT"
EXIT_CODE = 86
PAUSE_SECONDS = 120


def fault_point(point: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    points = {p.strip() for p in wanted.split(",")}
    if f"pause:{point}" in points:
        sys.stderr.write(f"{ENV}: paused at {point}\n")
        sys.stderr.flush()
        time.sleep(PAUSE_SECONDS)
    if point in points:
        sys.stderr.write(f"{ENV}: killing the process at {point}\n")
        sys.stderr.flush()
        os._exit(EXIT_CODE)
