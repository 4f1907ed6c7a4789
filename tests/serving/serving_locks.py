"""Test helpers: hold the warehouse's writer lock from another process, as a running sync would."""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SELECT 1").fetchall()
print("locked", flush=True)
sys.stdin.readline()
con.close()
"""


@contextmanager
def writer_lock_held(path: Path):
    """A separate process opens the warehouse read-write until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        try:
            proc.stdin.write("\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        proc.wait(timeout=20)
        time.sleep(0.05)
