"""Peak memory of a process together with the workers it forks, sampled while it runs.

`getrusage`/`wait4` report the largest single process, but the hub forks workers (standardising,
comparison) that run beside the parent; what the machine must hold is their sum. Each sample adds up
the proportional set size (PSS, /proc/PID/smaps_rollup) of the process and its descendants: pages a
fork still shares with its parent are counted once between them, pages it copied are counted twice.
Linux only (as the benchmarks are).
"""
from __future__ import annotations

import threading
from pathlib import Path

PROC = Path("/proc")


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended between listing and reading
            continue
        out.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return out


def _tree(pid: int) -> list[int]:
    children, todo, seen = _children(), [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(children.get(p, []))
    return seen


def _pss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakTreeMemory:
    """Samples the summed PSS of `pid` and its descendants every `interval` seconds until stop()."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in _tree(self.pid)))
            self._stop.wait(self.interval)

    def stop(self) -> float:
        """Stop sampling; the peak in GiB."""
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024**2
