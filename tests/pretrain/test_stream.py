"""Token shards (lazy, any fsspec URL), the mixture stream, and the rank/worker split and resume."""

from __future__ import annotations

import json
import shutil
import time
from functools import partial
from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from transformers import AutoTokenizer

from pipeline.core.atomic import read_arrow
from pretrain.data.meter import MixMeter
from pretrain.data.stream import PretrainStream, micro_batches
from pretrain.objectives import SpecialIds, clm_collate, mlm_collate
from tests.pretrain.fixtures import (
    WEIGHTS,
    Workspace,
    build_many_shards,
    build_mixture,
    build_workspace,
    make_docs,
    word_start_flags,
)
from tokenization.mixture import mixture_digest, mixture_of_weights, read_mixture
from tokenization.shards import TokenShards
from tokenization.stream import BLOCK, WINDOW, DocStream

IDS = SpecialIds(vocab_size=600)
MLM = partial(mlm_collate, ids=IDS, seq_len=18)  # random masks: content depends on the example rng


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("stream"))


def _stream(ws: Workspace, tokens: str | Path | None = None, **kw) -> PretrainStream:
    args = {"collate": MLM, "chunk_len": 16, "batch_size": 4, "seed": 7} | kw
    return PretrainStream(tokens or ws.tokens_dir, ws.mixture_path, **args)


def _take(stream: PretrainStream, n_batches: int) -> dict[int, dict[str, torch.Tensor]]:
    """Examples by global index from the first n batches."""
    out = {}
    for (indices, batch), _ in zip(stream.iter_batches(), range(n_batches), strict=False):
        for i, g in enumerate(indices):
            out[g] = {k: v[i] for k, v in batch.items()}
    return out


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_shards_expose_every_document(ws: Workspace) -> None:
    shards = TokenShards(ws.tokens_dir)
    manifest = json.loads((ws.tokens_dir / "manifest.json").read_text())
    assert shards.sources == sorted(WEIGHTS)
    for src in shards.sources:
        assert shards.num_docs(src) == 120
        assert int(shards.doc_lengths(src).sum()) == manifest["tokens_per_source"][src]
        assert len(shards.doc(src, 5)) == shards.doc_lengths(src)[5]
    assert shards.doc("web", 0).dtype == np.uint16


def test_mixture_realises_weights(ws: Workspace) -> None:
    stream = DocStream(TokenShards(ws.tokens_dir), read_mixture(ws.mixture_path))
    sources, docs = stream.documents(40_000)
    # the weights are shares of TOKENS: documents are drawn by share / mean document length ...
    mean = {s: stream.shards.doc_lengths(s).mean() + 1 for s in WEIGHTS}  # + EOS
    for src, weight in WEIGHTS.items():
        draw = (weight / mean[src]) / sum(w / mean[s] for s, w in WEIGHTS.items())
        assert sources.count(src) / len(sources) == pytest.approx(draw, abs=0.01)
    assert len({round(m) for m in mean.values()}) == 3  # (the sources' documents differ in length)
    # ... so the realised token shares meet the weights
    realised = stream.tokens_per_source(1_000_000)
    for src, weight in WEIGHTS.items():
        assert realised[src] / sum(realised.values()) == pytest.approx(weight, abs=0.01)
    # each source walks a permutation of its documents, reshuffled every epoch
    web = docs[np.array(sources) == "web"]
    first, second = web[:120], web[120:240]
    assert sorted(first.tolist()) == list(range(120)) and sorted(second.tolist()) == list(range(120))
    assert first.tolist() != second.tolist()
    # same seed, same stream; another seed, another stream
    assert stream.documents(500)[0] == sources[:500]
    other = json.loads(ws.mixture_path.read_text()) | {"seed": 99}
    assert DocStream(stream.shards, other).documents(500)[0] != sources[:500]


def test_token_stream_joins_documents_with_eos(ws: Workspace, tmp_path: Path) -> None:
    shards = TokenShards(ws.tokens_dir)
    stream = DocStream(shards, read_mixture(ws.mixture_path))
    sources, docs = stream.documents(50)
    expected = np.concatenate(
        [np.append(shards.doc(s, int(d)), shards.eos_id) for s, d in zip(sources, docs, strict=True)]
    )
    got = np.concatenate([stream.tokens(pos, 37) for pos in range(0, 37 * 10, 37)])  # forward reads
    assert got.tolist() == expected[: len(got)].tolist()
    realised = stream.tokens_per_source(len(got))
    assert sum(realised.values()) == len(got) - int((got == shards.eos_id).sum())

    only_books = tmp_path / "mix.json"  # a zero weight source is never drawn
    build_mixture(only_books, {"books": 1.0, "web": 0.0})
    assert set(DocStream(shards, read_mixture(only_books)).documents(1000)[0]) == {"books"}


def test_ranks_are_disjoint_and_cover_the_single_rank_stream(ws: Workspace) -> None:
    single = _take(_stream(ws), 6)  # 24 examples
    rank0 = _take(_stream(ws, rank=0, world=2), 3)
    rank1 = _take(_stream(ws, rank=1, world=2), 3)
    assert sorted(single) == list(range(24))
    assert not set(rank0) & set(rank1)
    assert sorted(set(rank0) | set(rank1)) == list(range(24))
    for g, example in {**rank0, **rank1}.items():
        assert _same(example, single[g])  # same tokens and same random masks whatever the layout
    assert example["input_ids"].shape == (18,)


def test_workers_split_batches_without_changing_order(ws: Workspace) -> None:
    stream = _stream(ws, rank=1, world=2)
    one = [b for b, _ in zip(stream.index_batches(), range(6), strict=False)]
    w0 = [b for b, _ in zip(stream.index_batches(0, 3), range(2), strict=False)]
    w1 = [b for b, _ in zip(stream.index_batches(1, 3), range(2), strict=False)]
    w2 = [b for b, _ in zip(stream.index_batches(2, 3), range(2), strict=False)]
    assert [w0[0], w1[0], w2[0], w0[1], w1[1], w2[1]] == one  # DataLoader's round-robin order

    plain = [b for b, _ in zip(DataLoader(_stream(ws), batch_size=None), range(4), strict=False)]
    multi = [
        b for b, _ in zip(DataLoader(_stream(ws), batch_size=None, num_workers=2), range(4), strict=False)
    ]
    assert all(_same(a, b) for a, b in zip(plain, multi, strict=True))


def test_items_of_several_micro_batches_split_into_the_same_batches(ws: Workspace) -> None:
    """The trainer ships several micro-batches per DataLoader item: the same batches come out."""
    plain = [b for b, _ in zip(_stream(ws, rank=1, world=2), range(6), strict=False)]
    items = DataLoader(_stream(ws, rank=1, world=2, batch_size=12), batch_size=None, num_workers=2)
    split = [b for b, _ in zip(micro_batches(iter(items), 4), range(6), strict=False)]
    assert all(_same(a, b) for a, b in zip(plain, split, strict=True))


def test_collating_in_pieces_gives_the_same_batches(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are collated a few rows at a time (cache-sized calls) and joined: nothing changes."""
    import pretrain.data.stream as stream_module

    whole = [b for b, _ in zip(_stream(ws, batch_size=12), range(3), strict=False)]
    monkeypatch.setattr(stream_module, "COLLATE_TOKENS", 5 * 16)  # 5 rows per call: 5 + 5 + 2
    pieces = [b for b, _ in zip(_stream(ws, batch_size=12), range(3), strict=False)]
    assert all(_same(a, b) for a, b in zip(whole, pieces, strict=True))
    assert all(b["input_ids"].shape[0] == 12 for b in pieces)


def test_resume_continues_with_the_next_example(ws: Workspace) -> None:
    stream = _stream(ws)
    batches = iter(stream)
    for _ in range(5):
        next(batches)
    state = stream.state_dict()
    assert state == {"seed": 7, "consumed": 20, "mixture": mixture_digest(read_mixture(ws.mixture_path))}
    expected = next(batches)

    resumed = _stream(ws)
    resumed.load_state_dict(state)
    assert _same(next(iter(resumed)), expected)

    # a different topology resumes the same global stream: 2 ranks continue at examples 20, 21, ...
    reference = _take(_stream(ws), 9)
    halves = [_stream(ws, rank=r, world=2) for r in range(2)]
    for h in halves:
        h.load_state_dict(state)
    got = {**_take(halves[0], 2), **_take(halves[1], 2)}
    assert sorted(got) == list(range(20, 36))
    assert all(_same(got[g], reference[g]) for g in got)

    with pytest.raises(ValueError, match="seed"):
        resumed.load_state_dict({"seed": 8, "consumed": 0})


def test_resume_refuses_a_changed_mixture(ws: Workspace, tmp_path: Path) -> None:
    """A re-mixed mixture.json (another mix.seed, or other weights) draws other documents for the
    same examples, so a checkpoint of the old mixture is not resumed on it."""
    state = _stream(ws).state_dict()
    mixture = read_mixture(ws.mixture_path)
    for changed in (
        {**mixture, "seed": mixture["seed"] + 1},
        {**mixture, "sources": {s: {**v, "probability": 0.5} for s, v in mixture["sources"].items()}},
    ):
        other = PretrainStream(ws.tokens_dir, changed, MLM, chunk_len=16, batch_size=4, seed=7)
        with pytest.raises(ValueError, match="mixture changed"):
            other.load_state_dict(state)
    same = PretrainStream(ws.tokens_dir, dict(mixture), MLM, chunk_len=16, batch_size=4, seed=7)
    same.load_state_dict(state)  # an equal mixture resumes
    assert same.consumed == state["consumed"]


def test_resume_with_other_dataloader_workers_and_ranks(ws: Workspace) -> None:
    """Stopped after 5 steps of one rank with no workers; resumed as 2 workers, or as 2 ranks x 2
    workers: the examples continue at exactly 20, 21, ... — none repeated, none skipped."""
    reference = _take(_stream(ws), 11)  # examples 0..43 as one rank, in-process
    state = {"seed": 7, "consumed": 20}

    def loader_examples(rank: int, world: int, n_batches: int) -> dict[int, dict[str, torch.Tensor]]:
        stream = _stream(ws, rank=rank, world=world)
        stream.load_state_dict(state)
        batches = [
            b
            for b, _ in zip(
                DataLoader(stream, batch_size=None, num_workers=2), range(n_batches), strict=False
            )
        ]
        indices = [b for b, _ in zip(stream.index_batches(), range(n_batches), strict=False)]
        return {
            g: {k: v[i] for k, v in batch.items()}
            for idx, batch in zip(indices, batches, strict=True)
            for i, g in enumerate(idx)
        }

    one = loader_examples(0, 1, 6)
    assert sorted(one) == list(range(20, 44))
    assert all(_same(one[g], reference[g]) for g in one)
    two = {**loader_examples(0, 2, 3), **loader_examples(1, 2, 3)}
    assert sorted(two) == list(range(20, 44))
    assert all(_same(two[g], reference[g]) for g in two)


def test_clm_examples_are_a_windowed_shuffle_of_the_token_stream(ws: Workspace) -> None:
    """Window 0 of the token stream, cut into chunks, comes out as a permutation of its chunks."""
    stream = _stream(ws, collate=clm_collate, chunk_len=16, batch_size=8)
    tokens = DocStream(stream.shards, stream.mixture).tokens(0, 16 * WINDOW).reshape(WINDOW, 16)
    batches = [b for b, _ in zip(stream, range(WINDOW // 8), strict=False)]
    got = torch.cat([b["input_ids"] for b in batches]).numpy()
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, tokens.tolist()))
    assert got.tolist() != tokens.tolist()  # shuffled: consecutive examples are not neighbours
    perm = np.random.default_rng([stream.seed, 2, 0]).permutation(WINDOW)
    assert np.array_equal(got, tokens[perm])


# ---- lazy shards, remote URLs, word starts, held-out slice, realised mix ----------------------


def test_ten_thousand_shards_start_lazily(tmp_path: Path) -> None:
    """No index build at start: the manifest is read, a shard is opened when a document is needed."""
    weights = build_many_shards(tmp_path / "many", 10_000)
    mixture = mixture_of_weights(weights, seed=3)
    t0 = time.perf_counter()
    stream = PretrainStream(tmp_path / "many", mixture, clm_collate, chunk_len=32, batch_size=4, seed=0)
    started = time.perf_counter() - t0
    assert stream.shards.opened == 0 and stream.shards.num_shards == 10_000
    batch = next(iter(stream))
    first_batch = time.perf_counter() - t0
    assert batch["input_ids"].shape == (4, 32)
    # placing the first window (2048 x 32 tokens) takes the lengths of the first block of BLOCK
    # documents: their shards (4 documents each) and at most a partial shard group per source
    assert stream.shards.opened <= BLOCK // 4 + 2 * 16
    assert started < 2.0 and first_batch < 10.0, (started, first_batch)


def test_remote_url_gives_the_same_stream(ws: Workspace) -> None:
    fs = fsspec.filesystem("memory")
    for path in ws.tokens_dir.iterdir():
        fs.pipe(f"/tokens-{id(ws)}/{path.name}", path.read_bytes())
    remote = _stream(ws, tokens=f"memory://tokens-{id(ws)}")
    assert not remote.shards.local
    local = _take(_stream(ws), 3)
    assert all(_same(a, local[g]) for g, a in _take(remote, 3).items())


def test_manifests_without_rows_per_source_still_work(ws: Workspace, tmp_path: Path) -> None:
    old = tmp_path / "tokens"
    shutil.copytree(ws.tokens_dir, old)
    manifest = json.loads((old / "manifest.json").read_text())
    for entry in manifest["shards"]:
        entry.pop("rows_per_source")
    (old / "manifest.json").write_text(json.dumps(manifest))
    a, b = TokenShards(ws.tokens_dir), TokenShards(old)  # b counts each shard's source column
    for src in a.sources:
        assert a.doc_lengths(src).tolist() == b.doc_lengths(src).tolist()


def test_stored_word_starts_reach_the_collator(tmp_path: Path) -> None:
    docs = make_docs(20)
    ws = build_workspace(tmp_path, per_source=20, word_starts=True)
    shards = TokenShards(ws.tokens_dir)
    tokenizer = AutoTokenizer.from_pretrained(ws.tokenizer_dir)
    stream = DocStream(shards, read_mixture(ws.mixture_path))
    sources, doc_ids = stream.documents(30)
    expected = np.concatenate(
        [
            np.append(word_start_flags(tokenizer, _text(shards, docs, s, int(d))), True)
            for s, d in zip(sources, doc_ids, strict=True)
        ]
    )
    tokens, starts = stream.read(0, 300, word_starts=True)
    assert starts is not None and starts.tolist() == expected[:300].tolist()

    seen = []

    def recording(chunks, rngs, word_starts=None):
        seen.append(word_starts)
        return clm_collate(chunks, rngs)

    ds = PretrainStream(
        ws.tokens_dir, ws.mixture_path, recording, chunk_len=16, batch_size=2, seed=0, word_starts=True
    )
    next(iter(ds))
    assert seen[0] is not None and seen[0].shape == (2, 16) and seen[0].dtype == bool


def _text(shards: TokenShards, docs: dict[str, list[str]], source: str, doc_id: int) -> str:
    """The fixture text of a stream document (the shards' `id` column is 'source-i')."""
    path, row = shards.locate(source, doc_id)
    row_id = read_arrow(shards.dir + "/" + path).column("id")[row].as_py()
    return docs[source][int(row_id.rsplit("-", 1)[1])]


def test_heldout_slice_is_disjoint_and_deterministic(ws: Workspace) -> None:
    train = TokenShards(ws.tokens_dir, holdout=0.1)
    held = TokenShards(ws.tokens_dir, holdout=0.1, part="heldout")
    full = TokenShards(ws.tokens_dir)
    for src in full.sources:
        assert train.num_docs(src) + held.num_docs(src) == full.num_docs(src) == 120
        assert held.num_docs(src) == 12
        every = [full.doc(src, d).tolist() for d in range(120)]
        assert [train.doc(src, d).tolist() for d in range(108)] == every[:108]
        assert [held.doc(src, d).tolist() for d in range(12)] == every[108:]  # the last documents
    with pytest.raises(ValueError, match="holdout"):
        TokenShards(ws.tokens_dir, part="heldout")


def test_mix_meter_counts_tokens_and_epochs(ws: Workspace) -> None:
    shards = TokenShards(ws.tokens_dir)
    mixture = read_mixture(ws.mixture_path)
    meter, reference = MixMeter(shards, mixture), DocStream(shards, mixture)
    for n in (100, 5_000, 60_000, 200_000):
        mix = meter.update(n)
        expected = reference.tokens_per_source(n)
        assert {s: m["tokens"] for s, m in mix.items()} == expected
        assert sum(m["share"] for m in mix.values()) == pytest.approx(1.0)
    assert {m["target"] for m in mix.values()} == set(WEIGHTS.values())
    assert all(m["epochs"] > 1 for m in mix.values())  # 200k tokens is several passes over 120 docs
    with pytest.raises(ValueError, match="forward"):
        meter.update(10)


def test_encoder_docs_per_source_indexes_without_opening_shards(ws: Workspace, tmp_path: Path) -> None:
    """`yuliao tokenizer encode` writes `docs_per_source` per shard (one row per document)."""
    enc = tmp_path / "tokens"
    shutil.copytree(ws.tokens_dir, enc)
    manifest = json.loads((enc / "manifest.json").read_text())
    for entry in manifest["shards"]:
        entry["docs_per_source"] = entry.pop("rows_per_source")
    (enc / "manifest.json").write_text(json.dumps(manifest))
    a, b = TokenShards(ws.tokens_dir), TokenShards(enc)
    assert b.opened == 0  # indexed from the manifest alone
    for src in a.sources:
        assert a.doc_lengths(src).tolist() == b.doc_lengths(src).tolist()
