"""Signatures interchangeable with datasketch; LSH shape as datasketch chooses it; verification."""

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from pipeline.config import DedupConfig
from pipeline.dedup.lsh import band_hashes, lsh_params, optimal_params, s_curve
from pipeline.dedup.minhash import HASHFUNC, SCHEME, shingle_sets, signatures, to_datasketch
from pipeline.dedup.shingles import shingles
from pipeline.dedup.verify import estimated_jaccard

POEM = "床前明月光，疑是地上霜。举头望明月，低头思故乡。" * 3
ENGLISH = (
    "Debian is a free operating system, developed and maintained by the Debian project. "
    "It provides more than a pure operating system: it comes with thousands of packages. "
    "The Debian project is an association of individuals who have made common cause to create "
    "a free operating system. Packages are maintained by volunteers who follow the Debian Policy."
)


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7)])
def test_signature_loads_as_lean_minhash_and_equals_datasketchs_own(num_perm, seed):
    cfg = DedupConfig(num_perm=num_perm, seed=seed)
    texts = [ENGLISH, POEM, ENGLISH.replace("thousands", "many thousands"), ""]
    sigs = signatures(texts, cfg)
    for text, sig in zip(texts, sigs, strict=True):
        own = MinHash(num_perm=num_perm, seed=seed, hashfunc=HASHFUNC, scheme=SCHEME)
        own.update_batch(list(shingles(text, cfg.ngram, cfg.word_ngram)))
        assert np.array_equal(sig, own.hashvalues)
        lean = to_datasketch(sig, cfg)
        assert isinstance(lean, LeanMinHash)
        assert lean == LeanMinHash(own)
        assert lean.jaccard(own) == 1.0
    # and it works inside datasketch's own LSH
    lsh = MinHashLSH(threshold=0.5, num_perm=num_perm)
    lsh.insert("en", to_datasketch(sigs[0], cfg))
    assert lsh.query(to_datasketch(sigs[2], cfg)) == ["en"]
    assert lsh.query(to_datasketch(sigs[1], cfg)) == []


@pytest.mark.parametrize("threshold,num_perm", [(0.8, 128), (0.75, 128), (0.5, 64), (0.9, 256)])
def test_optimal_params_equal_datasketchs_choice(threshold, num_perm):
    assert optimal_params(threshold, num_perm, 0.5, 0.5) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_default_bands_catch_pairs_at_the_threshold():
    cfg = DedupConfig()
    bands, rows = lsh_params(cfg)
    assert bands * rows <= cfg.num_perm
    assert s_curve(cfg.threshold + 0.05, bands, rows) >= 0.99  # recall side: a pair just above meets
    assert s_curve(0.8, bands, rows) >= 0.9999
    assert s_curve(0.15, bands, rows) < 0.02  # unrelated documents rarely become candidates
    with pytest.raises(ValueError, match="set both bands and rows"):
        DedupConfig(bands=8)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        DedupConfig(bands=20, rows=8)


def test_band_hashes_agree_exactly_when_the_band_agrees():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**32, (1, 128), dtype=np.uint32)
    b = a.copy()
    b[0, 5] ^= 1  # one value in band 0 (rows 0-5 for 6 rows per band) differs
    ha, hb = band_hashes(a, 21, 6), band_hashes(b, 21, 6)
    assert ha[0, 0] != hb[0, 0] and np.array_equal(ha[0, 1:], hb[0, 1:])


def test_estimate_is_close_to_exact_jaccard():
    cfg = DedupConfig(num_perm=256)
    variant = ENGLISH.replace("thousands", "many thousands").replace("volunteers", "people")
    sigs = signatures([ENGLISH, variant], cfg)
    hashes, off = shingle_sets([ENGLISH, variant], cfg)
    x, y = set(hashes[off[0] : off[1]].tolist()), set(hashes[off[1] : off[2]].tolist())
    exact = len(x & y) / len(x | y)
    assert abs(estimated_jaccard(sigs[:1], sigs[1:])[0] - exact) < 0.1


def test_results_do_not_depend_on_the_kernel_batch_size(monkeypatch):
    """Batches bound the kernel's scratch memory only: cutting a partition into many calls
    gives the same signatures, text hashes and shingle sets as one call."""
    import pipeline.dedup.minhash as mh

    cfg = DedupConfig()
    texts = [POEM, ENGLISH, "", POEM[:7], ENGLISH.upper(), "混合 mixed 文本 text " * 9]
    whole = mh.signatures_and_hashes(texts, cfg), mh.shingle_sets(texts, cfg)
    monkeypatch.setattr(mh, "BATCH_BYTES", 40)
    assert len(mh._batches(mh.utf8_docs(texts)[1])) > 3
    cut = mh.signatures_and_hashes(texts, cfg), mh.shingle_sets(texts, cfg)
    assert np.array_equal(whole[0][0], cut[0][0]) and whole[0][1] == cut[0][1]
    assert all(np.array_equal(a, b) for a, b in zip(whole[1], cut[1], strict=True))


def test_an_arrow_column_gives_what_its_python_strings_give():
    """Keys read a partition's text column in place: sliced, chunked, with nulls and as
    large_string it must hash exactly like the same texts as Python strings."""
    import pyarrow as pa

    from pipeline.dedup.minhash import shingle_sets, signatures_and_hashes

    cfg = DedupConfig()
    texts = ["skip me", POEM, None, ENGLISH, "Ｆｕｌｌ　ＷＩＤＴＨ ﬁ …", "Σ ΟΔΟΣ", "😀 𠀀𠀁𠀂𠀃𠀄"]
    want = signatures_and_hashes([t or "" for t in texts[1:]], cfg)
    sets = shingle_sets([t or "" for t in texts[1:]], cfg)
    column = pa.array(texts, pa.string()).slice(1)
    for col in (
        column,
        column.cast(pa.large_string()),
        pa.chunked_array([column.slice(0, 2), column.slice(2)]),
    ):
        sigs, hashes = signatures_and_hashes(col, cfg)
        assert np.array_equal(sigs, want[0]) and hashes == want[1]
        assert all(np.array_equal(a, b) for a, b in zip(shingle_sets(col, cfg), sets, strict=True))
    from pipeline.dedup.shingles import _batch

    # both kinds of input reach the kernel with the same types: one compiled kernel, the one
    # warm_up loads (a second one cost each worker's first verify task 0.13 s)
    assert len(_batch.signatures) == 1


def test_unique_pairs_are_the_distinct_pairs_in_order():
    from pipeline.dedup.verify import unique_pairs

    rng = np.random.default_rng(0)
    gids = rng.choice(np.uint64(1) << np.uint64(40), 50, replace=False).astype(np.uint64)  # sparse, wide ids
    a, b = rng.choice(gids, 2000), rng.choice(gids, 2000)
    ua, ub = unique_pairs(a, b)
    assert list(zip(ua.tolist(), ub.tolist(), strict=True)) == sorted(
        set(zip(a.tolist(), b.tolist(), strict=True))
    )
    assert ua.dtype == np.uint64 and ub.dtype == np.uint64
    empty = np.zeros(0, np.uint64)
    assert all(len(x) == 0 for x in unique_pairs(empty, empty))
