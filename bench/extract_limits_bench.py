"""Per-page extraction cost against work measures: what the extract step's work limits rest on.

Part 1 (real pages): every HTML page of the given WARCs, decoded as the pipeline does; per page
its UTF-8 bytes, lxml element count (what `trafilatura_max_elements` counts), lexbor element
count (what `max_elements` counts on the resiliparse path), and the CPU seconds of trafilatura
and resiliparse through `extract_html`.  Prints cost by element-count bin, the quantiles, and
the pages the default limits send to resiliparse or filter, with both extractors' text length.

Part 2 (synthetic pages): the worst shapes found, at and around the default limits:
trafilatura (fast and full) at 20k elements, its quadratic shape (sibling <span>s in one <p>)
at growing sizes, and resiliparse's elements × depth cost (nested <div>s) up to the caps.

CPU time (`time.process_time`, one thread) is measured, not wall time: the VM is shared.

Usage: python bench/extract_limits_bench.py [--synthetic-only | --real-only] [WARC ...]
       (default: pipeline/sample_data/*.warc.gz and ../shared/corpora/crawl-dev-*.warc.gz)
"""

from __future__ import annotations

import glob
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from resiliparse.parse.html import HTMLTree
from trafilatura.utils import load_html

from pipeline.config import ExtractConfig
from pipeline.io.readers import read_partition
from pipeline.steps.decode import decode
from pipeline.steps.extract import TooComplex, element_count, extract_page

REPO = Path(__file__).resolve().parents[1]
DEFAULT = [
    *sorted(glob.glob(str(REPO / "pipeline" / "sample_data" / "*.warc.gz"))),
    *sorted(glob.glob(str(REPO.parent / "shared" / "corpora" / "crawl-dev-*.warc.gz"))),
]
TRAF = ExtractConfig(
    extractor="trafilatura", timeout_s=None, trafilatura_max_elements=None, max_elements=None
)
TRAF_FULL = TRAF.model_copy(update={"fast": False})
RESI = ExtractConfig(extractor="resiliparse", timeout_s=None, max_elements=None, max_depth=None)
DEFAULTS = ExtractConfig()


def cpu(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def route(html: str) -> str:
    try:
        return extract_page(html, DEFAULTS)[1]
    except TooComplex as exc:
        return str(exc)


def real(paths: list[str]) -> None:
    rows = []
    for path in paths:
        batch = decode(read_partition(path, "bench", "warc").batch).kept
        for page in batch.select(["url", "text", "is_html"]).to_pylist():
            html = page["text"]
            if not page["is_html"] or not html or (tree := load_html(html)) is None:
                continue
            t_traf, text_traf = cpu(lambda h=html, u=page["url"]: extract_page(h, TRAF, u)[0])
            t_resi, text_resi = cpu(lambda h=html: extract_page(h, RESI)[0])
            rows.append(
                {
                    "file": Path(path).name,
                    "url": page["url"],
                    "bytes": len(html.encode()),
                    "lxml": element_count(tree),
                    "lexbor": len(HTMLTree.parse(html).document.query_selector_all("*")),
                    "traf": t_traf,
                    "resi": t_resi,
                    "chars_traf": len(text_traf),  # type: ignore[arg-type]
                    "chars_resi": len(text_resi),  # type: ignore[arg-type]
                    "route": route(html),
                }
            )
    el = np.array([r["lxml"] for r in rows])
    traf = np.array([r["traf"] for r in rows])
    resi = np.array([r["resi"] for r in rows])
    nbytes = np.array([r["bytes"] for r in rows])
    print(f"HTML pages: {len(rows)} from {len(paths)} files")
    print("quantiles p50 / p90 / p99 / p99.9 / max:")
    for name, v, fmt in [("lxml elements", el, "{:.0f}"), ("bytes", nbytes, "{:.0f}")]:
        print(
            f"  {name:<16}",
            " / ".join(fmt.format(x) for x in [*np.percentile(v, [50, 90, 99, 99.9]), v.max()]),
        )
    for name, v in [("trafilatura ms", traf), ("resiliparse ms", resi)]:
        q = [*np.percentile(v, [50, 90, 99, 99.9]), v.max()]
        print(f"  {name:<16}", " / ".join(f"{x * 1000:.1f}" for x in q))
    print(
        "corr(log trafilatura s, log elements) = "
        f"{np.corrcoef(np.log(traf), np.log(el))[0, 1]:.3f}; vs log bytes = "
        f"{np.corrcoef(np.log(traf), np.log(nbytes))[0, 1]:.3f}"
    )
    ratio = np.array([r["lexbor"] / r["lxml"] for r in rows])
    print(
        "lexbor / lxml element count p1 / p50 / p99:",
        " / ".join(f"{x:.2f}" for x in np.percentile(ratio, [1, 50, 99])),
    )
    per_el = traf / el * 1e6
    print(
        "\n| lxml elements | pages | trafilatura ms median | max | µs/element median | max | resiliparse ms max |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    edges = [0, 500, 1000, 2000, 4000, 8000, 16000, 20000, 10**9]
    for lo, hi in zip(edges, edges[1:], strict=False):
        m = (el >= lo) & (el < hi)
        if m.any():
            label = f"{lo:,}–{hi:,}" if hi < 10**9 else f"≥ {lo:,}"
            print(
                f"| {label} | {m.sum()} | {np.median(traf[m]) * 1e3:.1f} | {traf[m].max() * 1e3:.1f} | "
                f"{np.median(per_el[m]):.0f} | {per_el[m].max():.0f} | {resi[m].max() * 1e3:.1f} |"
            )
    off = [r for r in rows if r["route"] != "trafilatura"]
    print(f"\npages not on trafilatura under the defaults: {len(off)} of {len(rows)}")
    for r in off:
        print(
            f"  {r['file']} {r['url']} {r['route']}: {r['lxml']} elements, {r['bytes']:,} B, "
            f"trafilatura {r['traf']:.2f} s / {r['chars_traf']:,} chars, "
            f"resiliparse {r['resi']:.3f} s / {r['chars_resi']:,} chars"
        )


W = "word " * 8


def spans(n: int) -> str:
    return "<html><body><p>" + f"<span>{W}</span>" * n + "</p></body></html>"


def flat(n: int) -> str:
    return "<html><body><div>" + "".join(f"<p>{W}{i}</p>" for i in range(n)) + "</div></body></html>"


def sections(n: int, depth: int = 200) -> str:
    return (
        "<html><body>"
        + ("<div>" + f"<p>{W}</p>" * (n // depth)) * depth
        + "</div>" * depth
        + "</body></html>"
    )


def nested_divs(n: int) -> str:
    return "<html><body>" + "<div>" * n + W + "</div>" * n + "</body></html>"


def deep_then_wide(depth: int, n: int) -> str:
    return "<html><body>" + "<div>" * depth + "<div>x</div>" * n + "</div>" * depth + "</body></html>"


def synthetic() -> None:
    print("\ntrafilatura at the budget (20,000 elements), CPU s: fast / full")
    for name, make in [("sibling spans", spans), ("flat <p>", flat), ("200-deep sections", sections)]:
        html = make(20_000)
        t_fast, _ = cpu(lambda h=html: extract_page(h, TRAF))
        t_full, _ = cpu(lambda h=html: extract_page(h, TRAF_FULL))
        print(f"  {name:<20} {element_count(load_html(html)):>7} elements: {t_fast:.2f} / {t_full:.2f}")
    print("\ntrafilatura (fast) on sibling spans, by size: quadratic")
    for n in (8_000, 16_000, 32_000, 64_000):
        html = spans(n)
        t, _ = cpu(lambda h=html: extract_page(h, TRAF))
        t_r, _ = cpu(lambda h=html: extract_page(h, RESI))
        print(f"  {n:>7} spans ({len(html) / 1e6:.1f} MB): trafilatura {t:.2f} s, resiliparse {t_r:.3f} s")
    print("\nresiliparse main content on nested <div>s: elements × depth")
    for n in (4_000, 16_000, 32_000):
        html = nested_divs(n)
        t, _ = cpu(lambda h=html: extract_page(h, RESI))
        print(f"  {n:>7} nested divs: {t:.2f} s")
    for depth in (16, 128, 250):
        html = deep_then_wide(depth, 199_000)
        t, _ = cpu(lambda h=html: extract_page(h, RESI))
        t_checks, _ = cpu(lambda h=html: route(h))
        print(
            f"  199,000 divs under {depth:>3} nested ({len(html) / 1e6:.1f} MB): {t:.2f} s "
            f"(default route incl. lxml parse, checks, extraction: {t_checks:.2f} s)"
        )


def main(argv: list[str]) -> None:
    paths = [a for a in argv if not a.startswith("--")] or DEFAULT
    if "--synthetic-only" not in argv:
        real(paths)
    if "--real-only" not in argv:
        synthetic()


if __name__ == "__main__":
    main(sys.argv[1:])
