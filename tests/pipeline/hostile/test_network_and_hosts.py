"""No network, no shared host state: loaders never fall back to the Hugging Face Hub, pretraining runs
with the network unplugged, jieba's cache is private to the user, and outputs are fsynced before
they are renamed into place and before any completion marker.

The suite sets HF_HUB_OFFLINE=1 (tests/conftest.py); the network tests run in a subprocess without it
(and without TRANSFORMERS_OFFLINE / HF_DATASETS_OFFLINE), behind a proxy that goes nowhere, and with
socket look-ups and connections patched to end the process: any network attempt is a failure.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core import atomic
from tests.pretrain.fixtures import WEIGHTS, build_mixture, build_tokenizer, build_tokens, make_docs

REPO = Path(__file__).resolve().parents[3]
NETWORK_ATTEMPT = 97  # exit status of a child that tried to use the network

# Runs before the child's own code: any DNS look-up or connection ends it with NETWORK_ATTEMPT.
TRIPWIRE = f"""
import os, socket, sys

def _refuse(*args, **kwargs):
    sys.stderr.write(f"network attempt: {{args[:2]!r}}\\n")
    sys.stderr.flush()
    os._exit({NETWORK_ATTEMPT})

socket.getaddrinfo = socket.create_connection = _refuse
socket.socket.connect = socket.socket.connect_ex = _refuse
"""


def _unplugged_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    for key in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        env[key] = "http://127.0.0.1:9"
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    env["HF_HOME"] = str(tmp_path / "hf-home")  # an empty Hub cache: nothing to fall back on
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = str(REPO)
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run_unplugged(tmp_path: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "child.py"
    script.write_text(TRIPWIRE + code)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=_unplugged_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pretrain_runs_with_the_network_unplugged_and_never_asks_the_hub(tmp_path: Path) -> None:
    # First an output without a tokenizer: "missing/tokenizer" is also a valid Hub repo id, which
    # transformers asks for unless told local_files_only.  Then a complete output trains.
    out = tmp_path / "out"
    docs = make_docs(per_source=30)
    tokenizer = build_tokenizer(out / "tokenizer", [t for texts in docs.values() for t in texts])
    build_tokens(out / "tokens", tokenizer, docs)
    build_mixture(out / "tokens" / "mixture.json", WEIGHTS)
    sources = "".join(f"  - {{name: {s}, weight: {w}, tokens: 1000}}\n" for s, w in WEIGHTS.items())
    run = "{name: tiny, objective: clm, model: {arch: gpt2}, seq_len: 16, batch_size: 2, steps: 2, log_every: 1}"
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"sources:\n{sources}pretrain:\n  runs:\n    - {run}\n")
    code = f"""
from pipeline.cli.main import app
for output in ["missing", {str(out)!r}]:
    try:
        app(["pretrain", {str(manifest)!r}, "--output", output])
    except SystemExit as e:
        print("EXIT", output, e.code, flush=True)
"""
    done = _run_unplugged(tmp_path, code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "EXIT missing 2" in done.stdout
    assert "tokenizer not found: missing/tokenizer has no tokenizer.json" in done.stderr
    assert f"EXIT {out} 0" in done.stdout, done.stderr[-2000:]
    assert "tiny (clm): loss first-20 mean" in done.stdout
    assert (out / "models" / "tiny" / "model" / "model.safetensors").is_file()
    assert (out / "models" / "tiny" / "result.json").is_file()


def test_jieba_cache_is_private_to_the_user_and_a_planted_shared_one_is_ignored(tmp_path: Path) -> None:
    # A "shared temp dir" holding a cache another user planted: jieba's default would unmarshal it.
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    text = "我们今天学习中文"
    (shared / "jieba.cache").write_bytes(marshal.dumps(({text: 10**9}, 10**9)))
    code = f"""
import jieba
from pipeline.steps.filters.words import words
from tokenization.word_starts import word_start_chars
print("FILTER", words({text!r}))
print("WWM", word_start_chars({text!r}).tolist())
print("DIR", jieba.dt.tmp_dir)
"""
    env = _unplugged_env(tmp_path) | {"TMPDIR": str(shared)}
    script = tmp_path / "child.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    private = tmp_path / "cache" / "yuliao" / "jieba"
    assert f"DIR {private}" in done.stdout
    assert "FILTER ['我们', '今天', '学习', '中文']" in done.stdout
    assert "WWM [0, 2, 4, 6]" in done.stdout
    assert (private / "jieba.cache").is_file()
    assert (private.stat().st_mode & 0o777) == 0o700 and (private.parent.stat().st_mode & 0o777) == 0o700


def test_a_cache_folder_others_can_write_is_tightened_and_one_they_own_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loose = tmp_path / "yuliao" / "jieba"
    loose.mkdir(parents=True)
    loose.chmod(0o777)
    assert atomic.private_cache_dir("jieba") == loose
    assert loose.stat().st_mode & 0o777 == 0o700
    if os.geteuid() != 0:
        pytest.skip("handing a folder to another user needs root")
    theirs = tmp_path / "yuliao" / "other"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(PermissionError, match="belongs to uid 65534"):
        atomic.private_cache_dir("other")


def _record_syncs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync (by the path its descriptor names) and every rename, in order."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        real_replace(src, dst)
        events.append(("rename", str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names descriptors through /proc")
def test_data_and_its_directory_are_synced_before_the_rename_and_the_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _record_syncs(monkeypatch)
    final = tmp_path / "new" / "part-00000.json"
    atomic.write_json(final, {"rows": 1})
    atomic.mark_done(final)
    out, new = str(tmp_path), str(tmp_path / "new")
    data_tmp = events[1][1]
    assert Path(data_tmp).parent == final.parent and data_tmp.endswith(".tmp")
    assert events[0] == ("fsync", out)  # the new folder's entry in its parent
    assert events[2:4] == [("rename", str(final)), ("fsync", new)]
    marker = atomic.done_marker(final)
    made = [("fsync", str(d.parent)) for d in reversed(marker.parents) if final.parent in d.parents]
    assert events[4 : 4 + len(made)] == made  # the marker's new folders, each in its parent
    marker_tmp = events[4 + len(made)][1]
    assert events[4 + len(made)][0] == "fsync" and marker_tmp.endswith(".tmp") and marker_tmp != data_tmp
    assert events[5 + len(made) :] == [("rename", str(marker)), ("fsync", str(marker.parent))]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names descriptors through /proc")
def test_a_saved_model_folder_is_synced_before_it_is_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pretrain.train import _save_model

    class Saves:
        def __init__(self, name: str) -> None:
            self.name = name

        def save_pretrained(self, folder: Path) -> None:
            Path(folder).mkdir(exist_ok=True)
            (Path(folder) / self.name).write_text("{}")

    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))
    )
    real_replace = Path.replace

    def replace(self: Path, target: Path) -> Path:
        synced.append(f"rename {self.name}")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    _save_model(Saves("model.safetensors"), Saves("tokenizer.json"), tmp_path / "model")  # type: ignore[arg-type]
    tmp = str(tmp_path / ".model.tmp")
    assert synced.index("rename .model.tmp") > max(
        synced.index(f"{tmp}/model.safetensors"), synced.index(f"{tmp}/tokenizer.json"), synced.index(tmp)
    )
    assert str(tmp_path) in synced[synced.index("rename .model.tmp") :]  # the rename itself is durable
