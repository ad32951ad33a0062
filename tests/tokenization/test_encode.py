"""Dataset encoding: shard contents, manifest totals, dtype, resume, byte-identical reruns, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from tokenizers import Tokenizer
from typer.testing import CliRunner

from pipeline.cli.tokenizer import app
from pipeline.core.atomic import done_marker, read_arrow, sha256_file, write_arrow, write_json
from tokenization import __version__
from tokenization.config import TokenizerConfig
from tokenization.encode import encode_dataset, token_dtype
from tokenization.train import DatasetError, train_tokenizer

POEMS = [
    "松下问童子，言师采药去。只在此山中，云深不知处。",
    "空山不见人，但闻人语响。返景入深林，复照青苔上。",
    "独在异乡为异客，每逢佳节倍思亲。",
    "海内存知己，天涯若比邻。",
    "两个黄鹂鸣翠柳，一行白鹭上青天。窗含西岭千秋雪，门泊东吴万里船。",
    "会当凌绝顶，一览众山小。",
]
PROSE = [
    "The old lighthouse keeper climbed the stairs every evening at dusk.",
    "Rain fell on the tin roof all night, and nobody in the house could sleep.",
    "He counted the coins twice: 1,024 of them, exactly as the ledger said.",
    "Markets opened higher on Monday after a quiet weekend of negotiations.",
    "Write tests first; they'll tell you when you've broken something.",
]
WEB = [
    "欢迎访问我们的网站！点击这里 <s>删除线</s> 查看更多 😀",
    "Price: ¥199（含税）｜Free shipping｜限时优惠 </s><pad>",
    "用户评论：这个产品非常好用，推荐给大家。Rating 5/5 ★★★★★",
]
SOURCES = {"poems": POEMS, "prose": PROSE, "web": WEB}
SHARDS, ROWS_PER_SHARD = 3, 80


def make_rows(shard: int) -> dict[str, list[str]]:
    ids, texts, sources = [], [], []
    names = sorted(SOURCES)
    for j in range(ROWS_PER_SHARD):
        n = shard * ROWS_PER_SHARD + j
        src = names[n % 3]
        pool = SOURCES[src]
        ids.append(f"{src}-{n:05d}")
        texts.append("\n".join(pool[(n + k) % len(pool)] for k in range(1 + n % 4)))
        sources.append(src)
    return {"id": ids, "text": texts, "source": sources}


def make_dataset(root: Path, text_col: str = "text") -> Path:
    entries = []
    for s in range(SHARDS):
        rows = make_rows(s)
        rows[text_col] = rows.pop("text")
        rel = f"data/shard-{s:05d}.arrow"
        write_arrow(root / rel, pa.table(rows))
        p = root / rel
        entries.append(
            {"path": rel, "rows": ROWS_PER_SHARD, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
        )
    write_json(root / "manifest.json", {"shards": entries, "version": 1})
    return root


def all_texts() -> list[str]:
    return [t for s in range(SHARDS) for t in make_rows(s)["text"]]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ds"))


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(iter(all_texts()), TokenizerConfig(vocab_size=700), out)
    return out


def files_bytes(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_encode_shards_match_input_and_manifest(dataset: Path, tokenizer_dir: Path, tmp_path: Path):
    m = encode_dataset(dataset, tokenizer_dir, tmp_path)
    assert m == json.loads((tmp_path / "manifest.json").read_text())
    raw = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    assert m["dtype"] == "uint16" and m["eos_id"] == 2 and m["pad_id"] == 0
    assert m["tokenizer"] == {
        "path": str(tokenizer_dir.resolve()),
        "sha256": sha256_file(tokenizer_dir / "tokenizer.json"),
        "vocab_size": 700,
    }
    assert m["code_version"] == __version__
    assert [s["path"] for s in m["shards"]] == [f"shard-{i:05d}.arrow" for i in range(SHARDS)]

    total, per_source = 0, {}
    for i, entry in enumerate(m["shards"]):
        path = tmp_path / entry["path"]
        assert done_marker(path).exists()
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size
        table = read_arrow(path)
        src = make_rows(i)
        assert table.schema.field("input_ids").type == pa.list_(pa.uint16())
        assert table.column_names == ["id", "source", "input_ids"]
        assert entry["rows"] == table.num_rows == ROWS_PER_SHARD
        assert table.column("id").to_pylist() == src["id"]
        assert table.column("source").to_pylist() == src["source"]
        ids = table.column("input_ids").to_pylist()
        n = sum(len(x) for x in ids)
        assert entry["tokens"] == n and sum(entry["tokens_per_source"].values()) == n
        for text, row in zip(src["text"], ids, strict=True):
            assert raw.decode(row, skip_special_tokens=False) == text  # exact round trip
            assert 1 not in row and 2 not in row  # no BOS/EOS, literal "</s>" stays text
        total += n
        for k, v in entry["tokens_per_source"].items():
            per_source[k] = per_source.get(k, 0) + v
    assert m["total_tokens"] == total > 0
    assert m["tokens_per_source"] == per_source
    assert sorted(per_source) == ["poems", "prose", "web"]
    assert m["rows"] == SHARDS * ROWS_PER_SHARD
    # make_rows cycles the three sources: 240 rows -> 80 documents each.
    assert m["docs_per_source"] == {"poems": 80, "prose": 80, "web": 80}


def test_rerun_and_resume_are_byte_identical(dataset: Path, tokenizer_dir: Path, tmp_path: Path):
    encode_dataset(dataset, tokenizer_dir, tmp_path)
    first = files_bytes(tmp_path)
    kept = (tmp_path / "shard-00000.arrow").stat().st_mtime_ns

    encode_dataset(dataset, tokenizer_dir, tmp_path)
    assert files_bytes(tmp_path) == first

    (tmp_path / "shard-00001.arrow").unlink()
    done_marker(tmp_path / "shard-00001.arrow").unlink()
    encode_dataset(dataset, tokenizer_dir, tmp_path)
    assert files_bytes(tmp_path) == first
    assert (tmp_path / "shard-00000.arrow").stat().st_mtime_ns == kept  # finished shard was skipped


def test_changed_tokenizer_invalidates_done_shards(dataset: Path, tokenizer_dir: Path, tmp_path: Path):
    encode_dataset(dataset, tokenizer_dir, tmp_path / "enc")
    other = tmp_path / "tok2"
    train_tokenizer(iter(all_texts()), TokenizerConfig(vocab_size=500), other)
    m = encode_dataset(dataset, other, tmp_path / "enc")
    fresh = encode_dataset(dataset, other, tmp_path / "fresh")
    assert [s["sha256"] for s in m["shards"]] == [s["sha256"] for s in fresh["shards"]]
    assert m["tokenizer"]["vocab_size"] == 500


def test_distributed_client_matches_threads(dataset: Path, tokenizer_dir: Path, tmp_path: Path):
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        encode_dataset(dataset, tokenizer_dir, tmp_path / "dist", client)
    encode_dataset(dataset, tokenizer_dir, tmp_path / "thr")
    assert files_bytes(tmp_path / "dist") == files_bytes(tmp_path / "thr")


def test_local_run_loads_the_tokenizer_once(dataset: Path, tokenizer_dir: Path, tmp_path: Path, monkeypatch):
    import tokenization.encode as enc

    loads: list[Path] = []
    real = enc.load_tokenizer
    monkeypatch.setattr(enc, "load_tokenizer", lambda d: loads.append(Path(d)) or real(d))
    enc._cached_tokenizer.cache_clear()
    encode_dataset(dataset, tokenizer_dir, tmp_path / "a", scheduler="synchronous")
    assert loads == [tokenizer_dir]  # the driver's load serves all three shard tasks
    with pytest.raises(FileNotFoundError, match="tokenizer file not found"):
        encode_dataset(dataset, tmp_path / "no-tokenizer", tmp_path / "b")


def test_token_dtype():
    assert token_dtype(8000) == "uint16"
    assert token_dtype(65536) == "uint16"  # max id 65535 still fits
    assert token_dtype(65537) == "uint32"


def test_bad_inputs_raise_clear_errors(tokenizer_dir: Path, tmp_path: Path):
    with pytest.raises(DatasetError, match=r"manifest not found: .*missing[/\\]manifest\.json"):
        encode_dataset(tmp_path / "missing", tokenizer_dir, tmp_path / "o1")
    bad = make_dataset(tmp_path / "bad", text_col="body")
    with pytest.raises(DatasetError, match=r"shard-00000\.arrow: missing column\(s\) \['text'\]"):
        encode_dataset(bad, tokenizer_dir, tmp_path / "o2")
    assert (
        encode_dataset(bad, tokenizer_dir, tmp_path / "o3", text_field="body")["rows"]
        == SHARDS * ROWS_PER_SHARD
    )
    with pytest.raises(FileNotFoundError, match=r"tokenizer file not found: .*tokenizer\.json"):
        encode_dataset(bad, tmp_path / "no-tok", tmp_path / "o4")
    (bad / "data" / "shard-00002.arrow").unlink()
    with pytest.raises(DatasetError, match=r"not found: .*shard-00002\.arrow"):
        encode_dataset(bad, tokenizer_dir, tmp_path / "o5", text_field="body")


def test_cli_train_and_encode(dataset: Path, tmp_path: Path):
    runner = CliRunner()
    tok, enc = tmp_path / "tok", tmp_path / "enc"
    r = runner.invoke(
        app,
        ["train", "--input", str(dataset), "--tokenizer", str(tok), "--vocab-size", "640"]
        + ["--max-docs", "200"],
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((tok / "yuliao_tokenizer.json").read_text())
    assert meta["vocab_size"] == 640 and meta["config"]["max_docs"] == 200
    assert meta["training"]["docs"] == 196 and meta["training"]["heldout_docs"] == 4  # every 50th held out
    assert Tokenizer.from_file(str(tok / "tokenizer.json")).token_to_id("<extra_id_0>") == 639

    r = runner.invoke(app, ["encode", "--input", str(dataset), "--tokenizer", str(tok), "--tokens", str(enc)])
    assert r.exit_code == 0, r.output
    m = json.loads((enc / "manifest.json").read_text())
    assert m["rows"] == SHARDS * ROWS_PER_SHARD and m["total_tokens"] > 0
    assert f"{m['total_tokens']} tokens" in r.output
    # the same shards from Dask worker processes (the pipeline's LocalCluster)
    r = runner.invoke(
        app,
        ["encode", "--input", str(dataset), "--tokenizer", str(tok), "--tokens", str(tmp_path / "w1")]
        + ["--workers", "1"],
    )
    assert r.exit_code == 0, r.output
    assert [s["sha256"] for s in json.loads((tmp_path / "w1" / "manifest.json").read_text())["shards"]] == [
        s["sha256"] for s in m["shards"]
    ]

    r = runner.invoke(
        app, ["encode", "--input", str(tmp_path / "nope"), "--tokenizer", str(tok), "--tokens", str(enc)]
    )
    assert r.exit_code == 1 and "manifest not found" in r.output
    r = runner.invoke(app, ["train", "--input", str(dataset), "--tokenizer", str(tok), "--vocab-size", "100"])
    assert r.exit_code == 2 and "vocab_size" in r.output


def test_cli_train_from_jsonl(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in all_texts()), "utf-8")
    r = CliRunner().invoke(
        app, ["train", "--input", str(path), "--tokenizer", str(tmp_path / "t"), "--vocab-size", "500"]
    )
    assert r.exit_code == 0, r.output
    training = json.loads((tmp_path / "t" / "yuliao_tokenizer.json").read_text())["training"]
    assert training["docs"] + training["heldout_docs"] == len(all_texts())
    assert training["heldout_docs"] == -(-len(all_texts()) // 50)
