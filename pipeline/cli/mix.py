"""`yuliao mix`: GPT-3-style epochs per source for a token budget, written as mixture.json; optionally materialised.

`yuliao pipeline mix` and `yuliao tokenizer mix` are the same command under its old names, kept
for one release with a deprecation line.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli.manifest import Manifest
from pipeline.core.atomic import AnyPath


def plan_mixture(m: Manifest, tokens_dir: AnyPath | None, budget: int | None) -> Any:
    """Solve the manifest's mix against measured token counts (TOKENS/manifest.json) or declared ones."""
    from tokenization.mixture import solve

    measured: dict[str, int] = {}
    if tokens_dir is not None:
        measured = json.loads((tokens_dir / "manifest.json").read_text())["tokens_per_source"]
    counts = []
    for s in m.sources:
        n = measured.get(s.name, s.tokens)
        if n is None:
            raise ValueError(f"sources[{s.name}].tokens: unknown — declare it or pass --tokens TOKENS_DIR")
        counts.append(int(n))
    return solve(
        [s.name for s in m.sources],
        [s.weight for s in m.sources],
        counts,
        budget or m.mix.budget_tokens or sum(counts),
        max_epochs=[s.max_epochs for s in m.sources],
        normalize=m.mix.weights == "relative",
    )


def _sampling_overrides(specs: list[str]) -> dict[str, str]:
    """`--sampling web=pareto` -> {"web": "pareto"}; the method is validated by SamplingConfig."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, method = spec.partition("=")
        if not sep or not name or not method:
            raise typer.BadParameter(f"--sampling {spec!r}: expected SOURCE=METHOD, e.g. web=pareto")
        out[name] = method
    return out


def manifest_mixture(
    m: Manifest, tokens: AnyPath | None, budget: int | None = None, overrides: dict[str, str] | None = None
) -> dict:
    """mixture.json of a manifest: its mix solved, each source's `sampling:` (or an override) attached."""
    from pipeline.core.sampling import SamplingConfig
    from tokenization.mixture import build_mixture

    overrides = overrides or {}
    unknown = sorted(set(overrides) - {s.name for s in m.sources})
    if unknown:
        raise ValueError(f"--sampling names sources not in the manifest: {unknown}")
    within = {
        s.name: SamplingConfig.model_validate(overrides.get(s.name) or s.sampling or "uniform")
        for s in m.sources
    }
    return build_mixture(plan_mixture(m, tokens, budget), within, m.mix.seed, tokens)


def _mixture(
    source: Path, m: Manifest | None, tokens: AnyPath | None, budget: int | None, overrides: dict[str, str]
) -> dict:
    """Solve a run manifest, or adopt a mixture.json with its sampling overridden."""
    from pipeline.core.sampling import SamplingConfig
    from tokenization.mixture import read_mixture, validate_mixture

    if m is not None:
        return manifest_mixture(m, tokens, budget, overrides)
    mixture = read_mixture(source)
    for name, method in overrides.items():
        if name not in mixture["sources"]:
            raise ValueError(f"--sampling names a source not in {source}: {name}")
        mixture["sources"][name]["sampling"] = SamplingConfig.model_validate(method).model_dump(mode="json")
    return validate_mixture(mixture, str(source))


def mix_command(
    source: Annotated[
        Path, typer.Argument(help="Run manifest (.yaml) to solve, or a mixture.json to adopt.")
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            help="Run folder, a path or an fsspec URL (s3://bucket/run): token counts from OUTPUT/tokens "
            "when it exists.",
        ),
    ] = "out",
    tokens: Annotated[
        str | None,
        typer.Option(
            "--tokens",
            help="Token-shard dir whose manifest.json gives measured tokens per source (default OUTPUT/tokens "
            "when it exists; without any, the manifest's declared `tokens:` are used).",
        ),
    ] = None,
    mixture_path: Annotated[
        str | None,
        typer.Option(
            "--mixture", help="Write mixture.json here (default: beside the token shards; none without them)."
        ),
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Training tokens (default: the manifest's).")
    ] = None,
    sampling: Annotated[
        list[str] | None,
        typer.Option(
            "--sampling",
            help="SOURCE=METHOD sampling inside a source: uniform, pareto (GPT-3, quality_score), "
            "score (quality_score), rehydrate (cluster_size). Repeatable; overrides the manifest.",
        ),
    ] = None,
    materialise_dir: Annotated[
        str | None,
        typer.Option("--materialise", help="Also write the stream's first examples as chunk shards here."),
    ] = None,
    chunk_len: Annotated[
        int, typer.Option("--chunk-len", min=1, help="Tokens per materialised example.")
    ] = 2048,
    examples: Annotated[
        int | None,
        typer.Option("--examples", min=1, help="Examples to materialise (default budget / chunk-len)."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="The run seed whose example order --materialise writes (run.seed).")
    ] = 0,
) -> None:
    """Solve epochs per source (caps re-solved), write mixture.json, print GPT-3's Table 2.1 view."""
    from pydantic import ValidationError

    from pipeline.cli.common import manifest_or_exit
    from pipeline.core.atomic import as_path
    from pipeline.core.layout import MIXTURE_FILE, run_layout
    from tokenization.materialise import materialise
    from tokenization.mixture import table_2_1, write_mixture

    m = manifest_or_exit(source) if source.suffix.lower() in (".yaml", ".yml") else None
    layout = m.layout(output) if m is not None else run_layout(output)
    tokens_dir = as_path(tokens) if tokens is not None else None
    if tokens_dir is None and (layout.tokens / "manifest.json").is_file():
        tokens_dir = layout.tokens
    out = as_path(mixture_path) if mixture_path is not None else None
    if out is None and tokens_dir is not None:
        out = layout.mixture if tokens_dir == layout.tokens else tokens_dir / MIXTURE_FILE
    if materialise_dir is not None and tokens_dir is None:
        raise typer.BadParameter("--materialise needs token shards (--tokens, or OUTPUT/tokens)")
    try:
        mixture = _mixture(source, m, tokens_dir, budget, _sampling_overrides(sampling or []))
    except ValidationError as e:
        typer.secho(f"error: sampling: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    except (ValueError, KeyError, FileNotFoundError) as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(table_2_1(mixture))
    if out is None:
        return
    write_mixture(out, mixture)
    typer.echo(f"mixture: {out}")
    if materialise_dir is not None:
        assert tokens_dir is not None
        n = examples or max(1, int(mixture.get("budget_tokens") or chunk_len) // chunk_len)
        try:
            made = materialise(mixture, tokens_dir, as_path(materialise_dir), chunk_len, n, seed)
        except ValueError as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2) from None
        shares = ", ".join(f"{s} {v:.1%}" for s, v in made["share_per_source"].items())
        typer.echo(f"materialised {n} examples x {chunk_len} tokens -> {materialise_dir} ({shares})")


def deprecated_alias(old_name: str) -> Any:
    """`mix_command` under an old name, printing where it moved (kept for one release)."""

    @functools.wraps(mix_command)
    def alias(**kwargs: Any) -> None:
        typer.secho(
            f"`yuliao {old_name}` is deprecated and goes in the next release: use `yuliao mix`", err=True
        )
        mix_command(**kwargs)

    return alias
