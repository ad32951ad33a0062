"""The distributed dedup job end to end (standalone entry point, inline execution)."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.config import DedupConfig
from pipeline.core.atomic import read_arrow
from pipeline.core.ownership import OutputConflict
from pipeline.dedup.cluster import NO_DOC, cluster
from pipeline.dedup.lsh import EXACT_BAND
from pipeline.dedup.standalone import dedup_files
from pipeline.records import ledger
from tests.pipeline.test_dedup_data import distinct_texts, jaccard, near_copy, write_docs

CHUNK = 12_000  # bytes of text per partition: every input file is cut into several


def _ledger(out: Path) -> dict[str, dict]:
    rows = ledger.read(out / "ledger").to_pylist()
    return {r["id"]: r for r in rows}


def _planted(tmp_path: Path, fmt_b: str = "parquet") -> tuple[list[Path], dict[str, tuple[str, str]]]:
    """Two files of distinct documents with copies planted across partitions and files.

    Returns the inputs and {planted id: (original id, exact | near)}.
    """
    texts = distinct_texts()
    a = [{"id": f"a{i}", "text": t, "url": f"https://a.example/{i}"} for i, t in enumerate(texts[:12])]
    b = [{"id": f"b{i}", "text": t, "url": f"https://b.example/{i}"} for i, t in enumerate(texts[12:24])]
    planted = {
        "a-copy-of-a0": ("a0", "exact"),  # same file, last partition
        "a-near-a3": ("a3", "near"),
        "b-copy-of-a5": ("a5", "exact"),  # across files
        "b-near-a7": ("a7", "near"),
        "b-near-b1": ("b1", "near"),  # same file, other partition
        "b-copy-of-b2": ("b2", "exact"),
        "b-near2-a7": ("a7", "near"),  # a second near copy of one original: cluster of 3
    }
    original = {d["id"]: d["text"] for d in a + b}
    for pid, (src, how) in planted.items():
        text = original[src] if how == "exact" else near_copy(original[src], len(pid))
        if how == "exact":
            text = text.replace("\n", "  \n")  # still an exact copy after normalisation
        (a if pid.startswith("a-") else b).append({"id": pid, "text": text, "url": None})
    return [
        write_docs(tmp_path / "in" / "a.jsonl.gz", a),
        write_docs(tmp_path / "in" / f"b.{fmt_b}", b),
    ], planted


@pytest.mark.parametrize("fmt_b", ["parquet", "arrow"])
def test_planted_copies_across_partitions_and_files_are_removed_exactly(tmp_path, fmt_b):
    inputs, planted = _planted(tmp_path, fmt_b)
    out = tmp_path / "out"
    summary = dedup_files(inputs, out, "id", "text", DedupConfig(), partition_bytes=CHUNK)

    rows = _ledger(out)
    removed = {i: (r["duplicate_of"], r["reason"]) for i, r in rows.items() if r["decision"] == "duplicate"}
    assert removed == planted
    assert len({r["source"] for r in rows.values()}) == 2
    assert summary["documents"] == len(rows) == 24 + len(planted)
    assert summary["duplicates_exact"] == 3 and summary["duplicates_near"] == 4
    assert summary["kept"] == 24
    assert len(list((out / "ledger").glob("*.parquet"))) >= 4  # really several partitions

    sizes = {}
    for f in sorted((out / "ledger").glob("*.parquet")):
        t = pq.read_table(f)
        sizes.update(zip(t["id"].to_pylist(), t["cluster_size"].to_pylist(), strict=True))
    assert sizes["a7"] == 3 and sizes["a0"] == 2 and sizes["a1"] == 1 and sizes["b-near-b1"] is None
    data = [read_arrow(p) for p in sorted((out / "data").glob("*.arrow"))]
    kept = {
        i: s for t in data for i, s in zip(t["id"].to_pylist(), t["cluster_size"].to_pylist(), strict=True)
    }
    assert set(kept) == {i for i, r in rows.items() if r["decision"] == "kept"} and kept["b1"] == 2
    assert (out / "kept_ids.txt").read_text().split() == [d for d in rows if d in kept]

    report = (out / "report" / "report.md").read_text()
    assert "| exact copy | 3 |" in report and "| near duplicate | 4 |" in report
    assert "| 3 | 1 |" in report  # cluster-size histogram: one cluster of 3
    assert (out / "report" / "s_curve.png").stat().st_size > 1000
    assert summary["cluster_size_histogram"] == [[2, 5], [3, 1]]


def test_keys_tasks_scatter_their_own_rows_once(tmp_path, monkeypatch):
    import pipeline.dedup.scatter as scatter

    calls = []  # (partition, stage-1 files written by then)
    real = scatter.scatter_task

    def counted(p, plan):
        calls.append((p, len(list(plan.root.parent.glob("stage1/*.arrow")))))
        return real(p, plan)

    monkeypatch.setattr(scatter, "scatter_task", counted)
    inputs, _ = _planted(tmp_path)
    summary = dedup_files(inputs, tmp_path / "out", "id", "text", DedupConfig(), partition_bytes=CHUNK)
    parts = len(list((tmp_path / "out" / "ledger").glob("*.parquet")))
    # once per partition, right after its own keys (inline tasks run in order): no scatter round
    assert calls == [(p, p + 1) for p in range(parts)]
    assert summary["band_rows"] > 0 and summary["kept"] == 24


def test_rerun_is_byte_identical_and_other_settings_start_over(tmp_path):
    inputs, _ = _planted(tmp_path)
    out = tmp_path / "out"
    dedup_files(inputs, out, "id", "text", DedupConfig(), partition_bytes=4 * CHUNK)
    files = {
        p: p.read_bytes() for p in [*out.glob("data/*"), *out.glob("ledger/*.parquet"), out / "summary.json"]
    }
    import shutil

    shutil.rmtree(out)
    dedup_files(inputs, out, "id", "text", DedupConfig(), partition_bytes=4 * CHUNK)
    assert {p: p.read_bytes() for p in files} == files
    with pytest.raises(OutputConflict, match="--overwrite"):  # other settings never mix into a run
        dedup_files(inputs, out, "id", "text", DedupConfig(near=False), partition_bytes=4 * CHUNK)
    summary = dedup_files(
        inputs, out, "id", "text", DedupConfig(near=False), partition_bytes=4 * CHUNK, overwrite=True
    )
    assert summary["duplicates_near"] == 0 and summary["duplicates_exact"] == 3


def test_verification_drops_candidates_below_the_threshold(tmp_path):
    """Pages of one template: loose bands make them candidates; only verified pairs count."""
    texts = distinct_texts()
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts[:6])]
    docs.append({"id": "half", "text": texts[0][: len(texts[0]) // 2] + texts[1][len(texts[1]) // 2 :]})
    path = write_docs(tmp_path / "d.jsonl", docs)
    loose = {"bands": 64, "rows": 1}
    unchecked = dedup_files([path], tmp_path / "none", "id", "text", DedupConfig(verify="none", **loose))
    checked = dedup_files([path], tmp_path / "exact", "id", "text", DedupConfig(verify="exact", **loose))
    estimated = dedup_files([path], tmp_path / "est", "id", "text", DedupConfig(verify="estimate", **loose))
    assert unchecked["duplicates_near"] >= 1  # "half" shares shingles with d0 and d1
    assert checked["candidate_pairs"] >= 1 and checked["verified_pairs"] == 0
    assert checked["kept"] == estimated["kept"] == len(docs)


def test_keep_rule_quality_then_first_or_longest(tmp_path):
    text = distinct_texts()[3]
    longer = near_copy(text, 1)
    docs = [
        {"id": "z-first", "text": text, "quality_score": 0.5},
        {"id": "b-longer", "text": longer, "quality_score": 0.5},
        {"id": "c-best", "text": near_copy(text, 2), "quality_score": 0.9},
    ]
    path = write_docs(tmp_path / "d.parquet", docs)
    rows = {}
    for keep in ("first", "longest"):
        out = tmp_path / keep
        dedup_files([path], out, "id", "text", DedupConfig(keep=keep))
        rows[keep] = _ledger(out)
        assert rows[keep]["c-best"]["decision"] == "kept"  # quality first
    docs = [d | {"quality_score": None} for d in docs]
    path = write_docs(tmp_path / "e.parquet", docs)
    for keep, winner in (("first", "z-first"), ("longest", "b-longer")):
        dedup_files([path], tmp_path / f"e-{keep}", "id", "text", DedupConfig(keep=keep))
        kept = [i for i, r in _ledger(tmp_path / f"e-{keep}").items() if r["decision"] == "kept"]
        assert kept == [winner]


def test_chained_pairs_never_remove_a_document_without_a_kept_near_copy():
    """A~B, B~C, A≁C: connected components would drop C; the greedy pass keeps A and C."""
    gids = np.arange(4, dtype=np.uint64)
    near = (np.array([0, 1], np.uint64), np.array([1, 2], np.uint64), np.array([0.9, 0.8]))
    ident = (np.array([2], np.uint64), np.array([3], np.uint64), np.array([EXACT_BAND]))
    c = cluster(gids, np.arange(4), np.zeros(4, bool), ident, near)
    assert c.dup_of.tolist() == [NO_DOC, 0, NO_DOC, 2]
    assert c.cluster_size.tolist() == [2, 0, 2, 0]
    assert c.reason.tolist() == [0, 2, 0, 1]  # kept, near, kept, exact


def test_incremental_dedup_against_an_earlier_crawls_index(tmp_path):
    texts = distinct_texts()
    first = [{"id": f"old{i}", "text": t} for i, t in enumerate(texts[:8])]
    second = [{"id": f"new{i}", "text": t} for i, t in enumerate(texts[8:14])]
    second += [
        {"id": "new-copy-old2", "text": texts[2]},
        {"id": "new-near-old4", "text": near_copy(texts[4], 9)},
        {"id": "new-near-new1", "text": near_copy(texts[9], 3)},
    ]
    index = tmp_path / "index"
    cfg = DedupConfig()
    s1 = dedup_files(
        [write_docs(tmp_path / "c1.jsonl", first)], tmp_path / "o1", "id", "text", cfg, index=index
    )
    assert s1["kept"] == 8 and s1["index_segments_read"] == 0
    segments = json.loads((index / "meta.json").read_text())["segments"]
    assert len(segments) == 1

    out = tmp_path / "o2"
    s2 = dedup_files([write_docs(tmp_path / "c2.jsonl", second)], out, "id", "text", cfg, index=index)
    rows = _ledger(out)
    removed = {i: r["duplicate_of"] for i, r in rows.items() if r["decision"] == "duplicate"}
    assert removed == {"new-copy-old2": "old2", "new-near-old4": "old4", "new-near-new1": "new1"}
    assert s2["index_segments_read"] == 1 and len(rows) == len(second)  # old docs are not re-emitted
    assert len(json.loads((index / "meta.json").read_text())["segments"]) == 2

    with pytest.raises(ValueError, match="num_perm: index 128 vs run 64"):
        dedup_files(
            [tmp_path / "c2.jsonl"], tmp_path / "o3", "id", "text", DedupConfig(num_perm=64), index=index
        )


def test_line_dedup_strips_template_lines_and_counts_them(tmp_path):
    texts = distinct_texts()[:8]
    nav = "首页 | 产品 | 帮助 | 联系我们"
    docs = [{"id": f"d{i}", "text": f"{nav}\n{t}\n版权所有 © 2024 示例网站"} for i, t in enumerate(texts)]
    path = write_docs(tmp_path / "d.jsonl", docs)
    cfg = DedupConfig(lines={"enabled": True, "min_count": 5})
    summary = dedup_files([path], tmp_path / "out", "id", "text", cfg)
    assert summary["lines"]["frequent_units"] >= 2 and summary["lines_stripped"] >= 16
    out = read_arrow(next((tmp_path / "out" / "data").glob("*.arrow")))
    for text in out["text"].to_pylist():
        assert nav not in text and "版权所有" not in text
    assert "seen in ≥ 5 kept documents" in (tmp_path / "out" / "report" / "report.md").read_text()


def test_bad_inputs_fail_with_a_clear_message(tmp_path):
    path = write_docs(tmp_path / "d.jsonl", [{"doc": "1", "text": "x"}, {"doc": "1", "text": "y"}])
    with pytest.raises(ValueError, match="no column 'id'"):
        dedup_files([path], tmp_path / "o", "id", "text", DedupConfig())
    with pytest.raises(ValueError, match="ids are not unique"):
        dedup_files([path], tmp_path / "o2", "doc", "text", DedupConfig())
    with pytest.raises(ValueError, match="unsupported format"):
        dedup_files([tmp_path / "d.csv"], tmp_path / "o3", "id", "text", DedupConfig())
    assert jaccard("完全相同的文本内容", "完全相同的文本内容") == 1.0


def test_doc_store_texts_follow_the_gid_order(tmp_path):
    import pyarrow as pa

    from pipeline.core.atomic import write_arrow
    from pipeline.dedup.store import DocStore, make_gids

    files = []
    for p, texts in enumerate([["p0 a", "p0 b", None], ["p1 a", "p1 b"]]):
        files.append(tmp_path / f"{p}.arrow")
        write_arrow(files[-1], pa.table({"id": [f"{p}-{i}" for i in range(len(texts))], "text": texts}))
    segment = tmp_path / "seg.arrow"
    write_arrow(segment, pa.table({"id": ["old"]}))  # an index segment keeps no text
    store = DocStore(files, [segment])
    g0, g1, old = make_gids(0, 3), make_gids(1, 2), make_gids(0, 1, index=True)
    gids = np.array([g1[1], g0[2], old[0], g0[0], g1[0], g0[1]], np.uint64)
    assert store.texts(gids).to_pylist() == ["p1 b", None, None, "p0 a", "p1 a", "p0 b"]
    assert store.texts(gids).to_pylist() == store.column(gids, "text")


def _rss_file_kib() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("RssFile"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_doc_store_reads_a_few_rows_without_mapping_whole_partitions(tmp_path):
    """Verification reads a few candidates from every partition: each read must leave the task's
    RSS, or a task ends up holding the corpus's pages (3 GB at 64x the dev set)."""
    import pyarrow as pa

    from pipeline.core.atomic import write_arrow
    from pipeline.dedup.store import DocStore, make_gids

    rng = np.random.default_rng(0)
    n, chunk = 24_000, 1_000  # 48 MB of text in 24 record batches, as stage-1 files are written
    texts = [f"{i:08d} " + "x" * 2_000 for i in range(n)]
    sigs = pa.FixedSizeListArray.from_arrays(pa.array(rng.integers(0, 2**32, n * 4, dtype=np.uint32)), 4)
    table = pa.table({"id": [str(i) for i in range(n)], "text": texts, "minhash": sigs})
    path = tmp_path / "part.arrow"
    write_arrow(path, pa.Table.from_batches(table.to_batches(max_chunksize=chunk)))
    del table, texts
    store = DocStore([path])
    rows = np.sort(rng.choice(n, 120, replace=False))
    gids = make_gids(0, n)[rows]
    before = _rss_file_kib()
    got = store.texts(gids).to_pylist()
    lengths, signatures = store.lengths(gids), store.signatures(gids)
    grown_mib = (_rss_file_kib() - before) / 1024
    assert [t[:8] for t in got] == [f"{r:08d}" for r in rows]
    assert lengths.tolist() == [2_009] * len(rows)
    assert np.array_equal(signatures, sigs.flatten().to_numpy().reshape(n, 4)[rows])
    assert grown_mib < 8, f"reading 120 rows left {grown_mib:.0f} MiB of the 48 MB file mapped"
