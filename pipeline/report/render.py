"""Turn collected numbers into a terminal summary and a Markdown report with plots."""

from __future__ import annotations

from pathlib import Path

from pipeline.io.atomic import write_bytes


def summary_lines(r: dict) -> list[str]:
    d = r["decisions"]
    lines = [
        f"records in: {r['input_records']}   ledger rows: {r['ledger_rows']}   "
        f"kept {d['kept']} + filtered {d['filtered']} + duplicate {d['duplicate']} + quarantined {d['quarantined']}"
        f" = {sum(d.values())}",
        "",
        f"{'stage':<10}{'decision':<13}{'reason':<34}{'records':>8}",
    ]
    for row in r["by_stage"]:
        lines.append(
            f"{row['stage']:<10}{row['decision']:<13}{(row['reason'] or '-'):<34}{row['id_count']:>8}"
        )
    lines.append("")
    lines.append(f"duplicates: exact {r['duplicates']['exact']}, near {r['duplicates']['near']}")
    ds = r["dataset"]
    lines.append(f"dataset: {ds['rows']} documents in {ds['shards']} shards")
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


def _plots(r: dict, folder: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[tuple[str, str]] = []

    def save(fig, name: str, title: str) -> None:
        fig.tight_layout()
        path = folder / name
        fig.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(fig)
        made.append((title, name))

    # Decisions per source, stacked.
    sources = sorted({row["source"] for row in r["by_source"]})
    decisions = ["kept", "filtered", "duplicate", "quarantined"]
    counts = {(row["source"], row["decision"]): row["id_count"] for row in r["by_source"]}
    fig, ax = plt.subplots(figsize=(6, 3))
    bottom = [0] * len(sources)
    for dec in decisions:
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
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(reasons) + 1))
        ax.barh([k for k, _ in reasons], [v for _, v in reasons])
        ax.set_xlabel("records")
        save(fig, "drop_reasons.png", "Dropped records by stage and reason")

    if r["doc_lengths"]:
        fig, ax = plt.subplots(figsize=(6, 3))
        for src, lens in sorted(r["doc_lengths"].items()):
            if lens:
                ax.hist(lens, bins=40, alpha=0.6, label=src, log=True)
        ax.set_xlabel("characters per kept document")
        ax.legend(fontsize=8)
        save(fig, "doc_lengths.png", "Document length by source")

    if "runs" in r:
        fig, ax = plt.subplots(figsize=(6, 3))
        for name, run in sorted(r["runs"].items()):
            ax.plot(run["losses"], label=f"{name} ({run['objective']})")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        save(fig, "losses.png", "Training loss per objective")
    return made


def write_report(r: dict, folder: Path) -> Path:
    """report.md + PNG plots under `folder`; returns the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(r, folder)
    md = ["# Yuliao run report", "", "```", *summary_lines(r), "```", ""]
    if r["stage_seconds"]:
        md += [
            "## Throughput per stage",
            "",
            "| stage | records in | seconds (all workers) | records/s |",
            "|---|---|---|---|",
        ]
        order = ["read", "decode", "extract", "clean", "langid", "filter", "dedup_keys"]
        for stage, secs in sorted(
            r["stage_seconds"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
        ):
            n = r["stage_rows_in"].get(stage, r["input_records"])
            md.append(f"| {stage} | {n} | {secs:.2f} | {n / secs if secs else float('inf'):.1f} |")
        md.append("")
    for title, name in plots:
        md += [f"## {title}", "", f"![{title}]({name})", ""]
    path = folder / "report.md"
    write_bytes(path, "\n".join(md).encode())
    return path
