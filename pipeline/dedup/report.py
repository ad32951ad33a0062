"""The standalone dedup report: removed per method, cluster sizes, the LSH S-curve.

Markdown + PNGs (matplotlib) + timings.json; timings live here and not in summary.json,
so a rerun's summary is byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.atomic import write_bytes, write_json


def _plots(out: Path, summary: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipeline.dedup.lsh import s_curve

    made = []
    b, r, t = summary["bands"], summary["rows"], summary["config"]["threshold"]
    s = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(s, s_curve(s, b, r), label=f"{b} bands × {r} rows")
    ax.axvline(t, color="grey", ls="--", label=f"threshold {t}")
    ax.set_xlabel("Jaccard similarity")
    ax.set_ylabel("P(candidate pair)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "s_curve.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    made.append("s_curve.png")
    hist = dict(summary.get("cluster_size_histogram", []))
    if hist:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.bar(list(hist), list(hist.values()))
        ax.set_xlabel("cluster size (documents a kept one stands for)")
        ax.set_ylabel("clusters")
        ax.set_yscale("log")
        fig.tight_layout()
        fig.savefig(out / "cluster_sizes.png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        made.append("cluster_sizes.png")
    return made


def write_report(out: Path, summary: dict, seconds: dict[str, float]) -> Path:
    from pipeline.dedup.lsh import s_curve

    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(out, summary)
    b, r = summary["bands"], summary["rows"]
    probs = ", ".join(f"P({x}) = {float(s_curve(x, b, r)):.3f}" for x in (0.5, 0.7, 0.8, 0.9))
    lines = [
        "# Dedup report",
        "",
        f"{summary['documents']} documents, {summary['kept']} kept.",
        "",
        "| removed as | documents |",
        "| --- | --- |",
        f"| exact copy | {summary['duplicates_exact']} |",
        f"| near duplicate | {summary['duplicates_near']} |",
        f"| same URL | {summary['duplicates_url']} |",
        "",
        f"LSH: {b} bands × {r} rows of {summary['config']['num_perm']} permutations ({probs}); "
        f"{summary['candidate_pairs']} candidate pairs, {summary['verified_pairs']} verified "
        f"({summary['config']['verify']}), {summary['clusters']} clusters.",
        f"Band index: {summary['band_index_bytes_per_document']} bytes per document.",
        "",
        f"Out of core: {summary['partitions']} partitions of at most "
        f"{summary['partition_bytes'] / (1 << 20):.1f} MiB of input, {summary['shards']} shuffle shards; "
        f"clustering on the driver over {summary['edges']} verified edges "
        f"({summary['documents_with_edges']} documents).",
        "",
        "| cluster size | clusters |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in summary.get("cluster_size_histogram", [])),
        "",
        *(f"![{p}]({p})" for p in pngs),
        "",
        "Seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()),
    ]
    if summary.get("lines"):
        ln = summary["lines"]
        lines[3:3] = [
            f"Lines: {ln['frequent_units']} {ln['unit']}s seen in ≥ {ln['min_count']} kept documents; "
            f"{summary['lines_stripped']} stripped.",
            "",
        ]
    write_bytes(out / "report.md", ("\n".join(lines) + "\n").encode())
    write_json(out / "timings.json", {k: round(v, 4) for k, v in seconds.items()})
    return out / "report.md"
