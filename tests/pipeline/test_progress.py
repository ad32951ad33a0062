"""Progress that helps at scale: records and MB with their rates beside the parts bar, and the
report's cluster facts (worker processes, hosts, cores) from what each stage-1 task recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.core.executor import _Meter, map_tasks
from pipeline.report.collect import cluster_facts
from pipeline.report.render import summary_lines


class Bar:
    def __init__(self) -> None:
        self.n, self.postfix = 0, ""

    def update(self) -> None:
        self.n += 1

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text


def test_the_meter_sums_records_and_bytes_and_gives_rates() -> None:
    bar = Bar()
    meter = _Meter(bar, lambda r: (r["records"], r["bytes"]))
    for r in ({"records": 1000, "bytes": 2_000_000}, {"records": 3000, "bytes": 6_000_000}):
        meter.done(r)
    assert bar.n == 2 and (meter.records, meter.bytes) == (4000, 8_000_000)
    assert meter.postfix(2.0) == "4,000 records (2,000/s), 8.0 MB (4.0 MB/s)"
    assert "4,000 records" in bar.postfix


def test_map_tasks_measures_inline_results_in_order() -> None:
    got = map_tasks(None, lambda x, k: {"x": x * k}, [1, 2, 3], "t", measure=lambda r: (r["x"], 0), k=10)
    assert got == [{"x": 10}, {"x": 20}, {"x": 30}]


def test_cluster_facts_count_processes_hosts_and_cores() -> None:
    workers = [
        {"host": "a", "pid": 1, "cores": 8},
        {"host": "a", "pid": 1, "cores": 8},
        {"host": "a", "pid": 2, "cores": 8},
        {"host": "b", "pid": 1, "cores": 16},
    ]
    assert cluster_facts(workers) == {"workers": 3, "hosts": 2, "cores": 24}
    assert cluster_facts([]) == {"workers": 0, "hosts": 0, "cores": 0}


def test_a_run_records_which_worker_ran_each_partition(tmp_path: Path) -> None:
    from pipeline.config import PipelineConfig, SourceConfig
    from pipeline.run import run_pipeline

    (tmp_path / "in.jsonl").write_text(
        "".join(json.dumps({"text": f"文档 {i} " * 30}) + "\n" for i in range(20))
    )
    out = tmp_path / "out"
    source = SourceConfig(name="web", paths=[str(tmp_path / "in.jsonl")], weight=1.0)
    run_pipeline([source], PipelineConfig(), out, client=None, base_dir=tmp_path)
    stats = [json.loads(p.read_text()) for p in (out / "_work" / "stage1").glob("*.stats.json")]
    facts = cluster_facts([s["worker"] for s in stats])
    assert facts == {"workers": 1, "hosts": 1, "cores": os.cpu_count()}  # inline: this process


def test_the_summary_names_the_cluster() -> None:
    r = {
        "decisions": {"kept": 1, "filtered": 0, "duplicate": 0, "quarantined": 0},
        "input_records": 1,
        "ledger_rows": 1,
        "by_stage": [],
        "duplicates": {"exact": 0, "near": 0},
        "kept_docs": {},
        "dataset": {"rows": 1, "shards": 1},
        "cluster": {"workers": 3, "hosts": 2, "cores": 24},
        "warnings": [],
    }
    assert "cluster: 3 worker process(es) on 2 host(s), 24 cores" in summary_lines(r)
