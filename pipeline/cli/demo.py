"""`yuliao demo`: the whole chain on the bundled sample, in one command.

crawl (WARC) → dataset + ledger → byte-level BPE tokenizer → token shards → GPT-3-style mix
→ four tiny models (causal LM, masked LM, span corruption, permuted LM) → report.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from pipeline.cli.manifest import Manifest


def _default_manifest() -> Path:
    return Path.cwd() / "manifests" / "demo.yaml"


def demo_command(
    output: Annotated[Path, typer.Option(help="where every artefact of the demo goes")] = Path(
        "yuliao-demo-out"
    ),
    manifest: Annotated[Path | None, typer.Option(help="default: manifests/demo.yaml in this folder")] = None,
    workers: Annotated[int | None, typer.Option(help="Dask workers (default: cores)")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, or 'inline'")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an output made with another config")] = False,
) -> None:
    from pipeline.cli.common import manifest_or_exit, print_and_write_report, run_pipeline_or_exit

    path = manifest or _default_manifest()
    if not path.exists():
        typer.secho(f"{path} not found: run from the repository root or pass --manifest", fg="red", err=True)
        raise typer.Exit(2)
    m = manifest_or_exit(path)
    if m.tokenizer is None or m.pretrain is None:
        typer.secho(f"{path}: the demo needs `tokenizer:` and `pretrain:` sections", fg="red", err=True)
        raise typer.Exit(2)

    import torch

    from pipeline.cli.mix import manifest_mixture
    from pipeline.core.executor import open_client
    from pretrain.runs import train_runs
    from tokenization.mixture import table_2_1, write_mixture
    from tokenization.train import iter_dataset_texts, train_tokenizer

    t0 = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    layout = m.layout(output)
    with open_client(scheduler, workers) as client:
        typer.secho("== 1/5 pipeline: read, decode, extract, clean, langid, filter, dedup", bold=True)
        run_pipeline_or_exit(m, layout.dataset, client, overwrite)

        typer.secho("== 2/5 tokenizer: byte-level BPE", bold=True)
        texts = iter_dataset_texts(layout.dataset, m.tokenizer.text_field, m.tokenizer.max_docs)
        train_tokenizer(texts, m.tokenizer, layout.tokenizer)

        typer.secho("== 3/5 encode: token-id Arrow shards", bold=True)
        encode_for_runs(m, layout.dataset, layout.tokenizer, layout.tokens, client=client)

    typer.secho("== 4/5 mix: GPT-3-style weights → epochs", bold=True)
    mixture = manifest_mixture(m, layout.tokens)
    typer.echo(table_2_1(mixture))
    write_mixture(layout.mixture, mixture)

    typer.secho("== 5/5 pretrain: four objectives", bold=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    results = train_runs(m.pretrain.runs, layout)

    typer.secho(f"\n== summary ({time.perf_counter() - t0:.0f} s)", bold=True)
    print_and_write_report(layout)
    failures = verify_outputs(layout.tokenizer, results)
    if failures:
        for f in failures:
            typer.secho(f"FAILED: {f}", fg="red")
        raise typer.Exit(1)


def encode_for_runs(m: Manifest, dataset: Path, tok_dir: Path, tokens: Path, client=None) -> dict[str, Any]:
    """Encode the dataset for the manifest's runs: with jieba word starts when one of them masks words."""
    from pretrain.collate import uses_words
    from tokenization.encode import encode_dataset

    # Without stored starts, whole-word MLM (and XLNet's word spans) sees each Chinese character as a word.
    words = m.pretrain is not None and any(uses_words(run) for run in m.pretrain.runs)
    return encode_dataset(dataset, tok_dir, tokens, client=client, word_boundaries=words)


AUTO_CLASS = {
    "clm": "AutoModelForCausalLM",
    "mlm": "AutoModelForMaskedLM",
    "span": "AutoModelForSeq2SeqLM",
    "plm": "AutoModelForCausalLM",  # XLNetLMHeadModel is registered there
}


def verify_outputs(tok_dir: Path, results: list[dict]) -> list[str]:
    """Check what the demo promises, from the files it left: loadable artefacts, falling losses."""
    import transformers

    from pretrain.train import load_tokenizer

    failures: list[str] = []
    typer.secho("\n== checks", bold=True)
    tok = load_tokenizer(tok_dir)
    typer.echo(f"ok  tokenizer loads with AutoTokenizer ({type(tok).__name__}, {len(tok)} tokens)")
    for r in results:
        cls = getattr(transformers, AUTO_CLASS[r["objective"]])
        model = cls.from_pretrained(r["model_dir"], local_files_only=True)
        typer.echo(f"ok  {r['name']}: {cls.__name__} loads {type(model).__name__}")
        if r["last20_mean"] < r["first20_mean"]:
            typer.echo(
                f"ok  {r['name']}: last-20-step mean loss {r['last20_mean']:.3f} < first-20 {r['first20_mean']:.3f}"
            )
        else:
            failures.append(
                f"{r['name']}: loss did not fall ({r['first20_mean']:.3f} → {r['last20_mean']:.3f})"
            )
    return failures
