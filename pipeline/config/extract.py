"""HTML → text extraction settings.

Measured on the bundled sample's HTML pages (286; one core, no time limit, leaving out the
2.5 MB python-docs contents page, which alone takes ~20 s in trafilatura and is what
`timeout_s` is for):

| extractor | records/s | text vs trafilatura full (word-set Jaccard, mean / median) |
| --- | --- | --- |
| trafilatura, `fast: false` | 7 | 1 |
| trafilatura, `fast: true` (default) | 13 | 0.86 / 1.0 (158 of 286 pages identical, 12% fewer chars) |
| resiliparse | 270 | 0.71 / 0.79 |

`fast` skips trafilatura's readability/jusText fallbacks, which run when its own heuristics
find little text: twice the speed, for somewhat less text on a minority of pages.
resiliparse is ~20x faster again but keeps more navigation and boilerplate (simpler
main-content rules): use it for a first pass over very large crawls.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.config.base import Strict


class ExtractConfig(Strict):
    extractor: Literal["trafilatura", "resiliparse"] = Field(
        default="trafilatura", description="trafilatura: best main text; resiliparse: ~20x faster"
    )
    fast: bool = Field(default=True, description="trafilatura without its fallbacks: ~2x faster")
    include_tables: bool = True
    include_title: bool = True
    timeout_s: float | None = Field(
        default=5.0,
        gt=0,
        description="per-page time limit; a page over it is quarantined (extract_timeout); null: none",
    )
