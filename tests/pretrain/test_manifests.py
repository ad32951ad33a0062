"""Every manifest in manifests/ loads, and each of its pretraining runs builds its model and trains on
one collated batch (the model class, objective and collator of the run, at the run's seq_len)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from transformers import PreTrainedTokenizerFast

from pipeline.cli.manifest import ManifestError, load_manifest, parse_manifest
from pretrain.collate import chunk_length, make_collate, uses_words
from pretrain.config import COMPATIBLE
from pretrain.data.stream import PretrainStream
from pretrain.loss import loss_sum, target_count
from pretrain.models import AUTO_CLASS, build_model
from pretrain.objectives import WordTable, special_ids
from pretrain.train import CAUSAL, model_inputs
from tests.pretrain.fixtures import Workspace, build_workspace

MANIFESTS = sorted((Path(__file__).resolve().parents[2] / "manifests").glob("*.yaml"))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("manifests"), per_source=40)


def test_there_are_manifests() -> None:
    assert {p.name for p in MANIFESTS} >= {"demo.yaml", "gpt3_mixture.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.stem for p in MANIFESTS])
def test_manifest_loads_and_its_runs_build(path: Path, ws: Workspace) -> None:
    import torch

    manifest = load_manifest(path)
    assert manifest.sources and manifest.base_dir == path.parent
    if manifest.pretrain is None:
        return
    tokenizer = PreTrainedTokenizerFast.from_pretrained(ws.tokenizer_dir)
    ids = special_ids(tokenizer)
    for run in manifest.pretrain.runs:
        assert run.model.arch in COMPATIBLE[run.objective]
        model = build_model(run, tokenizer)
        assert isinstance(model, AUTO_CLASS[run.model.arch]._model_mapping[type(model.config)])
        words = WordTable.from_tokenizer(tokenizer, ids.special) if uses_words(run) else None
        stream = PretrainStream(
            ws.tokens_dir,
            ws.mixture_path,
            make_collate(run, ids, words, compact=True),  # as the trainer: masks built by model_inputs
            chunk_len=chunk_length(run),
            batch_size=2,
            seed=run.seed,
            word_starts=uses_words(run),
        )
        batch = next(iter(stream))
        assert batch["input_ids"].shape == (2, run.seq_len)
        inputs, labels = model_inputs(batch, torch.device("cpu"), run.objective)
        logits = model(**inputs).logits
        causal = run.objective in CAUSAL
        loss = loss_sum(logits, labels, causal) / target_count(labels, causal)
        # an untrained model is close to uniform over the vocabulary
        assert math.isfinite(loss.item()) and abs(loss.item() - np.log(len(tokenizer))) < 1.5


def test_a_misspelt_run_field_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load((MANIFESTS[0].parent / "demo.yaml").read_text())
    data["pretrain"]["runs"][0]["lr_rate"] = 1e-3
    with pytest.raises(ManifestError, match=r"pretrain\.runs\.0\.lr_rate: unknown field"):
        parse_manifest(data, tmp_path)
