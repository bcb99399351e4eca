"""``read_metrics`` is bounded whatever ``metrics.jsonl`` holds: an over-long line is skipped (the lines
after it still read), a file of more records than the cap is thinned evenly with its last record kept,
so a metric's last value stays exact."""

from __future__ import annotations

import json

from heyhi.sweep import results


def test_an_over_long_line_is_skipped_and_the_rest_reads(tmp_path):
    huge = json.dumps({"loss": 1.0, "blob": "x" * (results.MAX_METRIC_LINE * 3)})
    (tmp_path / "metrics.jsonl").write_text(f'{{"loss": 3.0}}\n{huge}\n{{"loss": 2.0}}\n{{"torn": ')
    assert results.read_metrics(tmp_path) == [{"loss": 3.0}, {"loss": 2.0}]
    assert results.metric_value(tmp_path, "loss") == 2.0


def test_a_long_file_is_thinned_evenly_and_keeps_its_last_record(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "MAX_METRIC_RECORDS", 10)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": i, "loss": 1000 - i}) + "\n" for i in range(1001)))
    recs = results.read_metrics(tmp_path)
    assert len(recs) <= 2 * 10 + 1
    steps = [r["step"] for r in recs]
    assert steps[0] == 0 and steps[-1] == 1000 and steps == sorted(steps)
    gaps = {b - a for a, b in zip(steps, steps[1:-1])}
    assert len(gaps) == 1  # evenly spaced (the last record comes after the thinned run)
    assert results.metric_value(tmp_path, "loss") == 0  # the last value, exact
