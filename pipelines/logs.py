"""Structured logs: every pipeline step reports what it did as one event with named fields.

Text for people by default; `HUB_LOG_FORMAT=json` (or `hub --log-format json ...`) prints one JSON
object per line for log shippers. Inside Dagster the same `hub.*` loggers are captured into the run's
event log (dagster.yaml: python_logs.managed_python_loggers).
"""
from __future__ import annotations

import logging
import os
import sys

import structlog

LOGGER_PREFIX = "hub"
FORMAT_ENV = "HUB_LOG_FORMAT"


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_PREFIX}.{name}")


def log_event(logger: logging.Logger, event: str, **fields) -> None:
    """One event with its fields: JSON keys in json mode, `key=value` pairs in text mode."""
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    logger.info(f"{event} {text}".strip(), extra={"event_name": event, **fields})


def configure_logging(fmt: str | None = None) -> None:
    """JSON mode logs every step event; text mode only warnings and errors (the CLI shows progress)."""
    fmt = (fmt or os.environ.get(FORMAT_ENV) or "text").lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"log format {fmt!r}: use 'text' or 'json' ({FORMAT_ENV})")
    level = logging.INFO if fmt == "json" else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                               structlog.stdlib.ExtraAdder(), structlog.processors.TimeStamper(fmt="iso")],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.JSONRenderer()],
        ))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(LOGGER_PREFIX)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
