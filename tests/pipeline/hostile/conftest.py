"""Shared guard for the hostile-input tests: nothing outside a job's output may change."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"


def snapshot(folder: Path, outputs: tuple[Path, ...] = ()) -> dict[str, tuple[int, int] | None]:
    """(size, mtime_ns) of every file under `folder` but inside `outputs` (None for folders);
    links are not followed."""
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) if p.is_file() else None
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink() and not any(p == o or o in p.parents for o in outputs)
    }


@pytest.fixture
def unchanged() -> Iterator[Callable[..., None]]:
    """`unchanged(folder, *outputs)` snapshots `folder` now, leaving out the job's `outputs`;
    the test fails if anything else in it differs at teardown."""
    watched: list[tuple[Path, tuple[Path, ...], dict]] = []
    yield lambda folder, *outputs: watched.append((folder, outputs, snapshot(folder, outputs)))
    for folder, outputs, before in watched:
        assert snapshot(folder, outputs) == before, f"{folder} changed outside the job's output"


@pytest.fixture(autouse=True)
def sample_data_unchanged(unchanged: Callable[[Path], None]) -> None:
    unchanged(SAMPLE)
