"""Standardising in row chunks and comparing in pair spans, each in forked workers, give exactly the
serial result."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from hub.demo.generator import generate_canonical
from identity_resolution import parallel
from identity_resolution.standardise import standardise_records


def test_standardising_in_forked_row_chunks_equals_the_serial_result(monkeypatch):
    records, _ = generate_canonical(600, 5)
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 100)
    assert parallel.worker_count(len(records), 3) == 3
    chunked = standardise_records(records, hash_key=b"k", workers=3)
    serial = standardise_records(records, hash_key=b"k", workers=1)
    pd.testing.assert_frame_equal(chunked, serial)
    assert len(chunked) == len(records)


def _tagged(chunk: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"row": chunk["row"].to_numpy(), "pid": os.getpid()})


def test_chunks_run_here_and_in_forked_workers_and_come_back_in_order():
    out = parallel.in_row_chunks(pd.DataFrame({"row": range(9)}), _tagged, 3)
    assert out["row"].tolist() == list(range(9))
    pids = out["pid"].tolist()
    # the first chunk here, the others in forked workers (one idle worker may take both: they are tiny)
    assert pids[:3] == [os.getpid()] * 3 and os.getpid() not in pids[3:]


def test_small_frames_stay_in_this_process_and_the_worker_setting_is_checked(monkeypatch):
    assert parallel.worker_count(parallel.PARALLEL_FROM - 1, 8) == 1
    monkeypatch.setenv("HUB_WORKERS", "2")
    assert parallel.worker_count(10 * parallel.PARALLEL_FROM) == 2
    monkeypatch.setenv("HUB_WORKERS", "two")
    with pytest.raises(ValueError, match="HUB_WORKERS"):
        parallel.worker_count(10 * parallel.PARALLEL_FROM)


def test_comparing_pairs_in_forked_spans_equals_the_serial_result(monkeypatch):
    from identity_resolution.blocking import block
    from identity_resolution.comparison import compare
    from identity_resolution.features import build_features

    records, _ = generate_canonical(3000, 3)  # enough people for two Jr./Sr. records to meet
    staged = standardise_records(records, hash_key=b"k", workers=1)
    features = build_features(staged)
    pairs = block(features, staged["silo"])
    monkeypatch.setattr(parallel, "PAIRS_PARALLEL_FROM", 50)
    spans, in_spans = [], parallel.in_spans
    monkeypatch.setattr(parallel, "in_spans", lambda n, fn, workers: spans.append(workers) or in_spans(n, fn, workers))
    assert len(pairs.left) > 200
    serial = compare(features, pairs.left, pairs.right, workers=1)
    pd.testing.assert_frame_equal(compare(features, pairs.left, pairs.right, workers=3), serial)
    assert spans == [1, 3]
    assert (serial != -1).any().all()  # every field was compared somewhere, so the spans had work to agree on
