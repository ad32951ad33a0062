"""Turn collected numbers into a terminal summary and an HTML + Markdown report with plots.

Both documents are built from the same list of sections (a title plus a table, a plot or
preformatted text), so they never disagree.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.extract import PAGE_TYPES
from pipeline.core.atomic import write_bytes

STAGE_ORDER = [
    "read",
    "decode",
    "extract",
    "clean",
    "boilerplate",
    "langid",
    "filter",
    "quality",
    "pii",
    "dedup_keys",
]


@dataclass
class Section:
    title: str
    pre: str | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    image: str | None = None  # PNG file name inside the report folder


def summary_lines(r: dict) -> list[str]:
    d = r["decisions"]
    lines = [
        f"records in: {r['input_records']}   ledger rows: {r['ledger_rows']}   "
        f"kept {d['kept']} + filtered {d['filtered']} + duplicate {d['duplicate']} + quarantined {d['quarantined']}"
        f" = {sum(d.values())}",
        "",
        f"{'stage':<12}{'decision':<13}{'reason':<34}{'records':>8}",
    ]
    for row in r["by_stage"]:
        lines.append(
            f"{row['stage']:<12}{row['decision']:<13}{(row['reason'] or '-'):<34}{row['id_count']:>8}"
        )
    lines.append("")
    lines.append(f"duplicates: exact {r['duplicates']['exact']}, near {r['duplicates']['near']}")
    removed = r["kept_docs"].get("lines_removed")
    if removed and removed["docs"]:
        lines.append(
            f"line dedup: {removed['lines']} repeated lines removed from {removed['changed']} documents"
        )
    ds = r["dataset"]
    lines.append(f"dataset: {ds['rows']} documents in {ds['shards']} shards")
    c = r.get("cluster")
    if c and c["workers"]:  # runs resumed from older stage-1 files have no worker facts
        lines.append(
            f"cluster: {c['workers']} worker process(es) on {c['hosts']} host(s), {c['cores']} cores"
        )
    if "tokenizer" in r:
        lines.append(f"tokenizer: {r['tokenizer']['kind']}, vocab size {r['tokenizer']['vocab_size']}")
    if "mixture" in r:
        mix = r["mixture"]
        lines.append("")
        lines.append(
            f"{'source':<10}{'tokens':>10}{'weight':>9}{'epochs':>9}   (budget {mix['budget_tokens']:,} tokens)"
        )
        for name, s in mix["sources"].items():
            lines.append(f"{name:<10}{s['tokens']:>10,}{s['weight']:>9.1%}{s['epochs']:>9.2f}")
    if "runs" in r:
        lines.append("")
        lines.append(
            f"{'run':<8}{'objective':<11}{'steps':>6}{'first loss':>12}{'last loss':>11}{'first20':>9}{'last20':>9}"
        )
        for name, run in r["runs"].items():
            losses = run["losses"]
            lines.append(
                f"{name:<8}{run['objective']:<11}{len(losses):>6}{losses[0]:>12.3f}{losses[-1]:>11.3f}"
                f"{run['first20_mean']:>9.3f}{run['last20_mean']:>9.3f}"
            )
    if r["warnings"]:
        lines.append("")
        lines.extend(f"WARNING: {w}" for w in r["warnings"])
    return lines


def _stage_key(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


def _tables(r: dict) -> list[Section]:
    out = []
    if r["stage_seconds"]:
        rows = []
        for stage in sorted(r["stage_seconds"], key=_stage_key):
            secs = r["stage_seconds"][stage]
            n = r["stage_rows_in"].get(stage, r["dataset"]["rows"])
            mb = r["stage_bytes_in"].get(stage)
            rate = f"{n / secs:.1f}" if secs else "-"
            rows.append([stage, str(n), f"{mb / 1e6:.2f}" if mb is not None else "-", f"{secs:.2f}", rate])
        out.append(
            Section(
                "Records, bytes and throughput per stage",
                header=["stage", "records in", "MB in", "seconds (all workers)", "records/s"],
                rows=rows,
            )
        )
    reasons = [
        [
            x["stage"],
            x["decision"],
            x["reason"] or "-",
            str(x["id_count"]),
            f"{(x['bytes_sum'] or 0) / 1e6:.2f}",
        ]
        for x in r["by_stage"]
    ]
    out.append(
        Section(
            "Ledger: decisions by stage and reason",
            header=["stage", "decision", "reason", "records", "MB"],
            rows=reasons,
        )
    )
    kept = r["kept_docs"]
    for col, title in (("lang", "Kept documents by language"), ("script", "Kept documents by script")):
        if col in kept["values"]:
            counts = _counts(kept, col).most_common()
            out.append(Section(title, header=[col, "documents"], rows=[[str(k), str(v)] for k, v in counts]))
    if kept["values"].get("extractor"):
        out.append(_extractor_choices(kept))
    if kept["values"].get("cluster_size"):
        sizes = _counts(kept, "cluster_size")
        out.append(
            Section(
                "Kept documents by duplicate-cluster size (1 = no duplicates)",
                header=["cluster size", "kept documents"],
                rows=[[str(k), str(v)] for k, v in sorted(sizes.items())],
            )
        )
    if kept.get("boilerplate_totals"):
        out.append(
            Section(
                "Boilerplate lines removed (kept documents, by rule)",
                header=["rule", "lines"],
                rows=[[k, str(v)] for k, v in sorted(kept["boilerplate_totals"].items())],
            )
        )
    if kept.get("pii_totals"):
        out.append(
            Section(
                "PII masked (occurrences)",
                header=["type", "count"],
                rows=[[k, str(v)] for k, v in sorted(kept["pii_totals"].items())],
            )
        )
    return out


def _extractor_choices(kept: dict) -> Section:
    """Kept documents per extractor, with the page type that chose it (null: plain text, none ran)."""
    rows = [
        [PAGE_TYPES.get(name, "-") if name else "plain text", name or "none", str(n)]
        for name, n in _counts(kept, "extractor").most_common()
    ]
    return Section("Kept documents by extractor", header=["page type", "extractor", "documents"], rows=rows)


def _counts(kept: dict, col: str) -> Counter:
    """Kept documents per value of `col`, values in order of first appearance (most_common's tie order)."""
    return Counter(dict(kept["values"][col]))


def _plots(r: dict, folder: Path) -> list[Section]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[Section] = []

    def save(fig, name: str, title: str) -> None:
        fig.tight_layout()
        png = io.BytesIO()  # through write_bytes, so the folder may be an fsspec URL
        fig.savefig(png, format="png", dpi=90, metadata={"Software": None})
        write_bytes(folder / name, png.getvalue())
        plt.close(fig)
        made.append(Section(title, image=name))

    sources = sorted({row["source"] for row in r["by_source"]})
    counts = {(row["source"], row["decision"]): row["id_count"] for row in r["by_source"]}
    fig, ax = plt.subplots(figsize=(6, 3))
    bottom = [0] * len(sources)
    for dec in ("kept", "filtered", "duplicate", "quarantined"):
        vals = [counts.get((s, dec), 0) for s in sources]
        ax.bar(sources, vals, bottom=bottom, label=dec)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_ylabel("records")
    ax.legend(fontsize=8)
    save(fig, "decisions_by_source.png", "Ledger decisions per source")

    reasons = [
        (f"{x['stage']}:{x['reason']}", x["id_count"]) for x in r["by_stage"] if x["decision"] != "kept"
    ]
    if reasons:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(reasons) + 1))
        ax.barh([k for k, _ in reasons], [v for _, v in reasons])
        ax.set_xlabel("records")
        save(fig, "drop_reasons.png", "Dropped records by stage and reason")

    if r["stage_bytes_in"]:
        stages = sorted(r["stage_bytes_in"], key=_stage_key)
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(stages, [r["stage_bytes_in"][s] / 1e6 for s in stages])
        ax.set_ylabel("MB entering stage")
        ax.tick_params(axis="x", labelrotation=30)
        save(fig, "bytes_per_stage.png", "Bytes entering each stage")

    kept = r["kept_docs"]
    if kept["docs"]:
        fig, ax = plt.subplots(figsize=(6, 3))
        for src in sorted(kept["chars"]):
            lens = [(c, n) for c, n in kept["chars"][src] if c > 0]
            if lens:  # each length once, weighted by its count: the same bins and bars as every length
                ax.hist(
                    [c for c, _ in lens],
                    weights=[n for _, n in lens],
                    bins=40,
                    alpha=0.6,
                    label=src,
                    log=True,
                )
        ax.set_xscale("log")
        ax.set_xlabel("characters per kept document")
        ax.legend(fontsize=8)
        save(fig, "doc_lengths.png", "Document length by source")

    for col, title, name in (
        ("lang", "Languages of kept documents", "langs.png"),
        ("script", "Scripts", "scripts.png"),
    ):
        if col in kept["values"]:
            top = _counts(kept, col).most_common(20)
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar([str(k) for k, _ in top], [v for _, v in top])
            ax.set_ylabel("documents")
            save(fig, name, title)

    scores = kept.get("quality_score")
    if scores and scores["scored"]:
        fig, ax = plt.subplots(figsize=(6, 3))
        bins = len(scores["hist"])
        mids = [(i + 0.5) / bins for i in range(bins)]  # one point inside each bin, weighted by its count
        ax.hist(mids, bins=bins, range=(0, 1), weights=scores["hist"])
        ax.set_xlabel("quality score (kept documents)")
        save(fig, "quality_scores.png", "Quality-classifier scores")

    if kept.get("pii_totals"):
        items = sorted(kept["pii_totals"].items())
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar([k for k, _ in items], [v for _, v in items])
        ax.set_ylabel("occurrences masked")
        save(fig, "pii.png", "PII masked by type")

    if "runs" in r:
        fig, ax = plt.subplots(figsize=(6, 3))
        for name, run in sorted(r["runs"].items()):
            ax.plot(run["losses"], label=f"{name} ({run['objective']})")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        save(fig, "losses.png", "Training loss per objective")
    return made


def _markdown(sections: list[Section]) -> str:
    md = ["# Yuliao run report", ""]
    for s in sections:
        md += [f"## {s.title}", ""]
        if s.pre is not None:
            md += ["```", s.pre, "```"]
        if s.header:
            md += ["| " + " | ".join(s.header) + " |", "|" + "---|" * len(s.header)]
            md += ["| " + " | ".join(row) + " |" for row in s.rows]
        if s.image:
            md.append(f"![{s.title}]({s.image})")
        md.append("")
    return "\n".join(md)


def _html(sections: list[Section], folder: Path) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Yuliao run report</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:1em}</style>",
        "</head><body><h1>Yuliao run report</h1>",
    ]
    for s in sections:
        parts.append(f"<h2>{e(s.title)}</h2>")
        if s.pre is not None:
            parts.append(f"<pre>{e(s.pre)}</pre>")
        if s.header:
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in s.header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in s.rows]
            parts.append("</table>")
        if s.image:
            data = base64.b64encode((folder / s.image).read_bytes()).decode()
            parts.append(f"<img alt='{e(s.title)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(r: dict, folder: Path) -> Path:
    """report.html (self-contained) + report.md + PNG plots under `folder`; returns the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = [Section("Summary", pre="\n".join(summary_lines(r))), *_tables(r), *_plots(r, folder)]
    write_bytes(folder / "report.md", _markdown(sections).encode())
    path = folder / "report.html"
    write_bytes(path, _html(sections, folder).encode())
    return path
