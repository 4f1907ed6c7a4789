"""Run the hub's Dagster jobs in-process from the CLI, with a readable progress display."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from rich.console import Console

from pipelines.build import MAIN_JOB, build_definitions

console = Console(stderr=True)


@dataclass
class JobOutcome:
    success: bool
    failed_steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _StepProgress(logging.Handler):
    """Echo each step's start, success and failure as one line instead of Dagster's full log."""

    MARKS = {"STEP_START": "[cyan]…[/]", "STEP_SUCCESS": "[green]✓[/]", "STEP_FAILURE": "[red]✗[/]"}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        kind = event.event_type_value if event is not None else ""
        if kind in self.MARKS:
            console.print(f"  {self.MARKS[kind]} {meta.get('step_key') or event.step_key}")


@dg.logger
def step_progress_logger(_init_context) -> logging.Logger:
    log = logging.getLogger("hub.steps")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    if not log.handlers:
        log.addHandler(_StepProgress())
    return log


def _instance() -> dg.DagsterInstance:
    # With DAGSTER_HOME set, CLI runs are recorded where `dagster dev` shows them.
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_job(warehouse: Path, silos: Path | None = None, job_name: str = MAIN_JOB,
            selection: dg.AssetSelection | None = None) -> JobOutcome:
    """Run a job of the hub's definitions in-process; with `selection`, an ad-hoc job of those assets."""
    defs = build_definitions(warehouse=warehouse, silos=silos)
    if selection is not None:
        defs = dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, resources=defs.resources,
                              jobs=[dg.define_asset_job(job_name, selection=selection)])
    job = defs.resolve_job_def(job_name).with_logger_defs({"progress": step_progress_logger})
    with _instance() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config={"loggers": {"progress": {}}})
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return JobOutcome(
        success=result.success,
        failed_steps=[e.step_key for e in failures],
        errors=[f"{e.step_key}: {_root_message(e.step_failure_data.error)}" for e in failures if e.step_failure_data.error],
    )


def _root_message(error) -> str:
    """Dagster wraps the asset's exception; the user needs the innermost message (past the retry
    policy's 'Exceeded max_retries of 3', which says nothing of what failed)."""
    retried = error.cause is not None and "RetryRequested" in error.cls_name
    if retried:
        error = error.cause
    while error.cause is not None and not error.message.split(":", 1)[-1].strip():
        error = error.cause
    if error.cause is not None and "DagsterExecutionStepExecutionError" in error.cls_name:
        error = error.cause
    message = error.message.strip()
    return f"{message} (after every retry)" if retried else message
