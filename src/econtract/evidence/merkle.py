"""RFC 9162 Merkle tree hashing, proofs and their verification, over stored complete subtrees.

A complete subtree is addressed as (level, index): it covers leaves [index·2^level, (index+1)·2^level).
Proof generation asks a `NodeSource` for the hashes of the complete subtrees it needs, all at once,
so a proof costs one batched read of O(log n) stored hashes whatever the tree size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

Node = tuple[int, int]  # (level, index)
NodeSource = Callable[[Iterable[Node]], dict[Node, bytes]]


class ProofError(ValueError):
    """A proof does not verify."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees, left to right, whose hashes fold into MTH(D[start:end]).

    `start` is aligned (a multiple of a power of two at least end-start rounded up), as every range
    of RFC 9162's recursion is.
    """
    nodes: list[Node] = []
    position = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        nodes.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of `range_nodes` (decreasing sizes) into the range's tree hash."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[start:end]) as the ranges whose hashes form it, leaf first."""
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], true) as ranges, in proof order."""
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        if m == end:
            if not complete:
                ranges.append((start, end))
            break
        k = _largest_power_of_two_below(end - start)
        if m - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            complete = False
    ranges.reverse()
    return ranges


def _resolve(ranges: list[tuple[int, int]], source: NodeSource) -> list[bytes]:
    wanted = [range_nodes(start, end) for start, end in ranges]
    found = source({node for nodes in wanted for node in nodes})
    return [fold([found[node] for node in nodes]) for nodes in wanted]


def root_hash(tree_size: int, source: NodeSource) -> bytes:
    if tree_size == 0:
        return EMPTY_ROOT
    return _resolve([(0, tree_size)], source)[0]


def inclusion_proof(index: int, tree_size: int, source: NodeSource) -> list[bytes]:
    if not 0 <= index < tree_size:
        raise ValueError("leaf index outside the tree")
    return _resolve(_inclusion_ranges(index, 0, tree_size), source)


def consistency_proof(old_size: int, new_size: int, source: NodeSource) -> list[bytes]:
    if not 0 <= old_size <= new_size:
        raise ValueError("sizes out of order")
    if old_size in (0, new_size):
        return []
    return _resolve(_consistency_ranges(old_size, new_size), source)


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2, given the leaf's hash. Raises ProofError."""
    if not 0 <= index < tree_size:
        raise ProofError("leaf index outside the tree")
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2. Raises ProofError."""
    if not 0 <= old_size <= new_size:
        raise ProofError("sizes out of order")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("equal sizes with different roots: the log forked")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != old_root or sr != new_root:
        raise ProofError("consistency proof does not match the roots: the log forked")


class Frontier:
    """The right edge of a growing tree: the complete subtrees not yet part of a larger one (at most one
    per level). Appending a leaf hash returns the subtrees it completes; ``root()`` is the RFC 9162 root
    of the leaves so far. O(log n) memory: the audit streams 10^7 leaves through one of these."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing

    def append(self, leaf_hash: bytes) -> list[tuple[Node, bytes]]:
        index = self.size
        completed: list[tuple[Node, bytes]] = [((0, index), leaf_hash)]
        level, position, current = 0, index, leaf_hash
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            current = node_hash(left, current)
            level, position = level + 1, position >> 1
            completed.append(((level, position), current))
        self._stack.append((level, current))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        current = self._stack[-1][1]
        for _level, left in reversed(self._stack[:-1]):
            current = node_hash(left, current)
        return current


def subtree_count(tree_size: int) -> int:
    """How many complete subtrees (leaves included) a tree of ``tree_size`` leaves has."""
    count, width = 0, tree_size
    while width:
        count += width
        width >>= 1
    return count


def subtree_hashes_of_leaves(leaf_hashes: Sequence[bytes]) -> dict[Node, bytes]:
    """Every complete subtree of an in-memory list of leaf hashes (tests, offline verification)."""
    nodes: dict[Node, bytes] = {(0, i): h for i, h in enumerate(leaf_hashes)}
    level, width = 0, len(leaf_hashes)
    while width > 1:
        for i in range(width // 2):
            nodes[(level + 1, i)] = node_hash(nodes[(level, 2 * i)], nodes[(level, 2 * i + 1)])
        level, width = level + 1, width // 2
    return nodes
