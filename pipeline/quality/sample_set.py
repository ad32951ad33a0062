"""A quality training set cut from the bundled sample: curated text against raw page text.

GPT-3 trained its classifier with WebText, Wikipedia and books as positives against raw
Common Crawl.  We have no spam corpus, so the sample supplies both sides the way a crawl does:
  * positives: the curated texts — the poems, and the main text trafilatura extracts from
    each HTML page (what the pipeline itself keeps);
  * negatives: the *whole* text of each page, navigation, menus, sidebars and footers included
    (resiliparse, main_content=False) — what raw Common Crawl text looks like next to curated
    text — plus two harder variants: the boilerplate alone (page lines that are not in the
    main text) and scrambled text (a share of the positives with each line's words, or
    characters in Chinese, shuffled), the garbled text a crawl is full of.
Both sides are cleaned like pipeline documents.  A page's texts share a group, so a held-out
page is held out entirely.

Build the set and the bundled model (pipeline/quality/models/sample):
    python -m pipeline.quality.sample_set --output /tmp/quality-set --model pipeline/quality/models/sample
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
HTML_FILES = ("web-zh.warc.gz", "handbook.warc.gz", "python-docs.warc.gz")
TEXT_FILES = ("poems.warc.gz",)
MIN_BOILERPLATE_CHARS = 80
_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Example:
    group: str  # the page or record it came from
    kind: str  # main | poem | full_page | boilerplate | scrambled
    label: int  # 1 = reference-like, 0 = raw crawl
    text: str


def full_page_text(html: str) -> str:
    """Everything a reader would see, boilerplate included."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=False, alt_texts=False, links=False)


def boilerplate(full: str, main: str) -> str:
    """Lines of the full page that are not part of the main text."""
    kept = {line.strip() for line in main.splitlines()}
    return "\n".join(s for line in full.splitlines() if (s := line.strip()) and s not in kept)


def scramble(text: str, rng: random.Random) -> str:
    """Shuffle each line's words (characters for Chinese lines): right symbols, no language."""
    out = []
    for line in text.splitlines():
        units = list(line) if _HAN.search(line) else line.split()
        rng.shuffle(units)
        out.append(("" if _HAN.search(line) else " ").join(units))
    return "\n".join(out)


def build(
    sample_dir: Path = SAMPLE,
    html_files: tuple[str, ...] = HTML_FILES,
    text_files: tuple[str, ...] = TEXT_FILES,
    scrambled_share: float = 0.3,
    seed: int = 0,
) -> list[Example]:
    from pipeline.config import CleanConfig, ExtractConfig
    from pipeline.io.readers import read_partition
    from pipeline.steps.clean import clean_text
    from pipeline.steps.decode import decode
    from pipeline.steps.extract import extract_html

    clean_cfg, extract_cfg = CleanConfig(), ExtractConfig()
    rng = random.Random(seed)
    out: list[Example] = []
    positives: list[Example] = []
    for name in (*html_files, *text_files):
        batch = decode(read_partition(str(sample_dir / name), "sample", "warc").batch).kept
        for row in batch.select(["url", "text", "is_html"]).to_pylist():
            url, raw = row["url"] or name, row["text"] or ""
            if not row["is_html"]:
                if text := clean_text(raw, clean_cfg):
                    positives.append(Example(url, "poem", 1, text))
                continue
            main = clean_text(extract_html(raw, extract_cfg, url), clean_cfg)
            full = clean_text(full_page_text(raw), clean_cfg)
            if not main or not full:
                continue
            positives.append(Example(url, "main", 1, main))
            out.append(Example(url, "full_page", 0, full))
            if len(extra := boilerplate(full, main)) >= MIN_BOILERPLATE_CHARS:
                out.append(Example(url, "boilerplate", 0, extra))
    for ex in positives:
        if rng.random() < scrambled_share:
            out.append(Example(ex.group, "scrambled", 0, scramble(ex.text, rng)))
    return positives + out


def write_jsonl_gz(path: Path, examples: list[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(asdict(ex), ensure_ascii=False) + "\n")


def main(
    output: Annotated[Path, typer.Option(help="writes positives.jsonl.gz and negatives.jsonl.gz here")],
    model: Annotated[Path | None, typer.Option(help="also train on the set and save the model here")] = None,
    buckets_log2: Annotated[int, typer.Option(help="2^N hashed feature buckets")] = 18,
    min_abs_weight: Annotated[float, typer.Option(help="drop smaller weights when saving")] = 1e-3,
    seed: int = 0,
) -> None:
    from pipeline.config.quality import QualityTrainConfig
    from pipeline.core.atomic import write_json
    from pipeline.quality.train import train

    examples = build(seed=seed)
    write_jsonl_gz(output / "positives.jsonl.gz", [e for e in examples if e.label == 1])
    write_jsonl_gz(output / "negatives.jsonl.gz", [e for e in examples if e.label == 0])
    kinds: dict[str, int] = {}
    for e in examples:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    typer.echo(json.dumps({"examples": len(examples), "kinds": kinds}))
    if model is not None:
        cfg = QualityTrainConfig(buckets_log2=buckets_log2, seed=seed, min_abs_weight=min_abs_weight)
        trained, summary = train(
            [e.text for e in examples], [e.label for e in examples], cfg, groups=[e.group for e in examples]
        )
        trained.meta["training"]["data"] = {
            "built_by": "python -m pipeline.quality.sample_set",
            "kinds": kinds,
        }
        trained.save(model, min_abs_weight=min_abs_weight)
        write_json(model / "metrics.json", summary)
        typer.echo(json.dumps({k: summary[k] for k in ("train", "holdout", "seconds")}, indent=2))


if __name__ == "__main__":
    typer.run(main)
