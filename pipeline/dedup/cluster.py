"""Verified edges → which documents are kept, and which kept document each duplicate is a copy of.

Nodes are groups of exact copies (same normalised text), edges the verified near pairs.
Nodes are visited best first (index documents, then highest `quality_score`, then
`DedupConfig.keep`: first in input order, or longest text and smallest id); a node is removed if an already kept node is its neighbour (it
points at the most similar one), else kept.  So every removed document has a verified
similarity ≥ threshold with the kept document it names, and no verified edge ends with both
sides kept.  Plain connected components would not give the first property: with chaining
(A~B, B~C, A≁C) a component can remove C with no kept near copy at all.  A kept node keeps
its best member; the other members are exact duplicates of it.  URL dedup (optional) then
keeps the best kept document per normalised URL and re-points its group's duplicates.

Runs on the driver over edges only (no signatures, no text): memory is about 60 bytes per
document that has an edge plus 24 per edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from pipeline.dedup.lsh import EXACT_BAND, URL_BAND

KEPT, REMOVED = 1, 2
REASONS = ("kept", "exact", "near", "url")
NO_DOC = -1


@dataclass
class Clusters:
    """Per document with any edge: `dup_of` (index into `gids`, NO_DOC when kept)."""

    gids: np.ndarray
    dup_of: np.ndarray
    reason: np.ndarray  # index into REASONS
    similarity: np.ndarray
    cluster_size: np.ndarray  # documents a kept document stands for (itself included); 0 if removed


@njit(cache=True)
def _greedy(order, indptr, nbr, sim, rank, forced, status, target, tsim):
    for v in order:
        best = -1
        best_sim = -1.0
        if not forced[v]:
            for e in range(indptr[v], indptr[v + 1]):
                u = nbr[e]
                if status[u] != KEPT:
                    continue
                if sim[e] > best_sim or (sim[e] == best_sim and rank[u] < rank[best]):
                    best, best_sim = u, sim[e]
        if best >= 0:
            status[v] = REMOVED
            target[v] = best
            tsim[v] = best_sim
        else:
            status[v] = KEPT


def _stars(n: int, centre: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Group label of every document given star edges centre → member (identity elsewhere)."""
    label = np.arange(n)
    label[member] = centre
    return label


def cluster(
    gids: np.ndarray,
    rank: np.ndarray,
    is_index: np.ndarray,
    ident: tuple[np.ndarray, np.ndarray, np.ndarray],
    near: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Clusters:
    """`gids` sorted unique documents with `rank` (0 = best, unique); `ident` = (centre, member,
    band) gid stars of exact / URL groups; `near` = (a, b, similarity) verified gid pairs."""
    n = len(gids)
    ca, cb, band = (np.searchsorted(gids, ident[0]), np.searchsorted(gids, ident[1]), ident[2])
    exact = band == EXACT_BAND
    node = _stars(n, ca[exact], cb[exact])
    # best member of each node, found by rank (ranks are unique)
    best_rank = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(best_rank, node, rank)
    rep = np.full(n, NO_DOC)
    is_rep = rank == best_rank[node]
    rep[node[is_rep]] = np.flatnonzero(is_rep)

    u = node[np.searchsorted(gids, near[0])]
    v = node[np.searchsorted(gids, near[1])]
    s = np.asarray(near[2], np.float64)
    keep = u != v
    u, v, s = u[keep], v[keep], s[keep]
    src, dst, w = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([s, s])
    order = np.lexsort((dst, src))
    src, dst, w = src[order], dst[order], w[order]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])

    node_rank = best_rank  # a node's priority is its best member's
    nodes = np.flatnonzero(node == np.arange(n))
    visit = nodes[np.argsort(node_rank[nodes], kind="stable")]
    forced = np.zeros(n, np.bool_)
    np.logical_or.at(forced, node, is_index)
    status = np.zeros(n, np.int8)
    target = np.full(n, NO_DOC)
    tsim = np.zeros(n, np.float64)
    _greedy(visit, indptr, dst, w, node_rank, forced, status, target, tsim)

    dup_of = np.full(n, NO_DOC)
    reason = np.zeros(n, np.int8)
    sim = np.ones(n, np.float64)
    kept_node = status[node] == KEPT
    members = kept_node & (np.arange(n) != rep[node])
    dup_of[members] = rep[node[members]]
    reason[members] = 1
    removed = ~kept_node
    dup_of[removed] = rep[target[node[removed]]]
    reason[removed] = 2
    sim[removed] = tsim[node[removed]]

    urls = band == URL_BAND
    if urls.any():
        _url_pass(n, ca[urls], cb[urls], rank, dup_of, reason, sim)

    size = np.zeros(n, np.int64)
    kept = dup_of == NO_DOC
    size[kept] = 1
    np.add.at(size, dup_of[~kept], 1)
    return Clusters(gids, dup_of, reason, sim, size)


def _url_pass(n, centre, member, rank, dup_of, reason, sim) -> None:
    """Among kept documents sharing a normalised URL keep the best; re-point its duplicates."""
    label = _stars(n, centre, member)
    kept = dup_of == NO_DOC
    in_group = np.zeros(n, bool)
    in_group[centre] = in_group[member] = True
    cand = np.flatnonzero(kept & in_group)
    best = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(best, label[cand], rank[cand])
    winner = np.full(n, NO_DOC)
    is_win = rank[cand] == best[label[cand]]
    winner[label[cand[is_win]]] = cand[is_win]
    lose = cand[~is_win]
    dup_of[lose] = winner[label[lose]]
    reason[lose] = 3
    sim[lose] = np.nan
    moved = np.zeros(n, bool)
    moved[lose] = True
    repoint = (dup_of != NO_DOC) & moved[np.maximum(dup_of, 0)] & ~moved
    dup_of[repoint] = winner[label[dup_of[repoint]]]
