"""Language id: Yuliao's langid step vs bare lingua (all languages) and py3langid, same run.

    python bench/langid_bench.py [../shared/bench/langid_dev.jsonl.gz] [--limit N] [--json OUT]
                                 [--only yuliao]

Each labelled line (`{"text", "lang", "script"}`; see ../shared/bench/make_langid_set.py) is
classified as a document on its own.  Prints, per system: line accuracy, per-language
accuracy, the top confusions (the full gold × predicted table for Yuliao), zh-Hans/zh-Hant accuracy (Yuliao only: the peers do not tell
them apart) and lines/s on one core.  Each system runs in a fresh process, one after the
other, so model loading (reported apart, not in lines/s) and peak memory are its own.
Ablations: Yuliao with lingua deciding everything (no py3langid fast path), and bare lingua
restricted to Yuliao's default languages (what the candidate set alone buys).
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import LangIdConfig  # noqa: E402
from pipeline.steps import langid  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "langid_dev.jsonl.gz"
# py3langid's codes for what the labels call zh / nb
PEER_CODES = {"yue": "zh", "wuu": "zh", "cmn": "zh", "lzh": "zh", "no": "nb"}


def load(path: Path, limit: int | None) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return rows[:limit] if limit else rows


def run(name: str, texts: list[str], warmup: list[str]) -> dict:
    """Classify `texts` with system `name` (see `SYSTEMS`); runs in a fresh process.

    `warmup` (a line of each language) is classified first: building and lazy model loading
    happen there and are reported as load time, not mixed into lines/s.
    """
    t = time.perf_counter()
    predict = SYSTEMS[name]()
    for x in warmup:
        predict(x)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    preds = [predict(x) for x in texts]
    secs = time.perf_counter() - t
    chars = sum(len(x) for x in texts)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "name": name,
        "preds": preds,
        "load_s": load_s,
        "lines_s": len(texts) / secs,
        "chars_s": chars / secs,
        "rss_mb": rss,
    }


def isolated(name: str, texts: list[str], warmup: list[str]) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(run, name, texts, warmup).result()


def yuliao(**overrides) -> Callable[[str], tuple[str, str | None]]:
    cfg = LangIdConfig(**overrides)

    def predict(text: str) -> tuple[str, str | None]:
        doc = langid.analyze(text, cfg)
        return doc.lang, doc.script

    return predict


def lingua_detector(languages: list[str] | None) -> Callable[[str], tuple[str, str | None]]:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if languages is None:
        det = LanguageDetectorBuilder.from_all_languages().build()
    else:
        det = LanguageDetectorBuilder.from_iso_codes_639_1(*map(IsoCode639_1.from_str, languages)).build()

    def predict(text: str) -> tuple[str, str | None]:
        lang = det.detect_language_of(text)
        return (lang.iso_code_639_1.name.lower() if lang else "und"), None

    return predict


def py3langid() -> Callable[[str], tuple[str, str | None]]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def predict(text: str) -> tuple[str, str | None]:
        lang = ident.classify(text)[0]
        return PEER_CODES.get(lang, lang), None

    return predict


def report(res: dict, rows: list[dict], top: int) -> dict:
    gold = [r["lang"] for r in rows]
    pred = [p[0] for p in res["preds"]]
    ok = sum(g == p for g, p in zip(gold, pred, strict=True))
    per: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        per.setdefault(g, [0, 0])
        per[g][0] += g == p
        per[g][1] += 1
    confusions = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    # Hans/Hant: on the Chinese lines the system calls Chinese (a line of untranslated English
    # on a zh-TW page has no Hant evidence to find)
    zh = [
        (r["script"], p[1])
        for r, p in zip(rows, res["preds"], strict=True)
        if r["lang"] == "zh" and p[0] == "zh"
    ]
    variant = sum(s == q for s, q in zh) / len(zh) if zh and any(q for _, q in zh) else None
    out = {
        "system": res["name"],
        "accuracy": ok / len(rows),
        "errors": len(rows) - ok,
        "hans_hant": variant,
        "hans_hant_lines": len(zh),
        "lines_per_s": res["lines_s"],
        "chars_per_s": res["chars_s"],
        "load_s": res["load_s"],
        "rss_mb": res["rss_mb"],
        "per_language": {k: v[0] / v[1] for k, v in sorted(per.items(), key=lambda kv: -kv[1][1])},
        "confusions": [(g, p, n) for (g, p), n in confusions.most_common(top)],
    }
    print(f"\n== {out['system']}")
    hh = f"{variant:.4f} on {len(zh)} lines called zh" if variant is not None else "n/a"
    print(
        f"line accuracy {out['accuracy']:.4f} ({out['errors']} errors)   zh-Hans/Hant {hh}   "
        f"{out['lines_per_s']:.0f} lines/s, {out['chars_per_s'] / 1e3:.0f}k chars/s   "
        f"load {out['load_s']:.1f}s   peak RSS {out['rss_mb']:.0f} MB"
    )
    print("per language: " + "  ".join(f"{k} {v:.3f}/{per[k][1]}" for k, v in out["per_language"].items()))
    print("top confusions (gold→pred n): " + "  ".join(f"{g}→{p} {n}" for g, p, n in out["confusions"]))
    return out


def confusion_table(rows: list[dict], preds: list[tuple[str, str | None]]) -> list[list[str]]:
    """Gold language (rows) × predicted language (columns), counts; "." for zero."""
    counts = Counter((r["lang"], p[0]) for r, p in zip(rows, preds, strict=True))
    gold = [k for k, _ in Counter(r["lang"] for r in rows).most_common()]
    predicted = gold + sorted({p for _, p in counts} - set(gold))
    table = [["gold\\pred", *predicted]]
    for g in gold:
        table.append([g, *(str(counts[g, p]) if counts[g, p] else "." for p in predicted)])
    return table


def print_table(table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(" ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def han_variant_accuracy(rows: list[dict]) -> tuple[float, int]:
    """`script.han_variant` alone on every Chinese-labelled line that has Han characters."""
    from pipeline.steps import script

    zh = [r for r in rows if r["lang"] == "zh" and script.letter_counts(r["text"]).get("Hani")]
    return sum(script.han_variant(r["text"]) == r["script"] for r in zh) / max(len(zh), 1), len(zh)


SYSTEMS: dict[str, Callable[[], Callable[[str], tuple[str, str | None]]]] = {
    "yuliao langid": yuliao,
    "yuliao langid, lingua only": lambda: yuliao(fast_min_prob=None),
    "lingua, all 75 languages": lambda: lingua_detector(None),
    "lingua, Yuliao's default languages": lambda: lingua_detector(LangIdConfig().languages),
    "py3langid (norm_probs)": py3langid,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--limit", type=int, default=None, help="first N lines only")
    ap.add_argument("--top", type=int, default=15, help="confusions to print")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here")
    ap.add_argument("--only", default=None, help="run only the systems whose name contains this")
    args = ap.parse_args()
    rows = load(args.path, args.limit)
    texts = [r["text"] for r in rows]
    print(f"{len(rows)} lines, {sum(map(len, texts))} chars, {len(set(r['lang'] for r in rows))} languages")
    warmup = list({r["lang"]: r["text"] for r in reversed(rows)}.values())
    results = []
    for name in [n for n in SYSTEMS if args.only is None or args.only in n]:
        res = isolated(name, texts, warmup)
        results.append(report(res, rows, args.top))
        if not results[1:]:  # the first system is Yuliao's default configuration
            print("\nconfusion table (gold rows, predicted columns):")
            results[0]["confusion_table"] = confusion_table(rows, res["preds"])
            print_table(results[0]["confusion_table"])
    acc, n = han_variant_accuracy(rows)
    print(f"\nscript.han_variant alone: {acc:.4f} on all {n} zh-labelled lines with Han characters")
    base = results[0]
    print("\n== summary (same run, same machine; one core each)")
    for r in results:
        hh = f"{r['hans_hant']:.4f}" if r["hans_hant"] is not None else "  n/a "
        print(
            f"{r['system']:36s} acc {r['accuracy']:.4f}  Hans/Hant {hh}  {r['lines_per_s']:6.0f} lines/s "
            f"(x{r['lines_per_s'] / base['lines_per_s']:.2f})  load {r['load_s']:5.1f}s  RSS {r['rss_mb']:5.0f} MB"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
