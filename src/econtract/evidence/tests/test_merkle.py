"""RFC 9162 proofs from stored subtrees agree with the RFC's recursive definitions, and verify."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from econtract.evidence import merkle


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def _mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) <= 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return _path(m, hashes[:k]) + [_mth(hashes[k:])]
    return _path(m - k, hashes[k:]) + [_mth(hashes[:k])]


def _subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [_mth(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _subproof(m, hashes[:k], complete) + [_mth(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [_mth(hashes[:k])]


def _source(hashes: list[bytes]) -> merkle.NodeSource:
    nodes = merkle.subtree_hashes_of_leaves(hashes)
    return lambda wanted: {node: nodes[node] for node in wanted}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_inclusion_proofs_match_the_rfc_and_verify(size, data):
    hashes = _leaves(size)
    source = _source(hashes)
    root = merkle.root_hash(size, source)
    assert root == _mth(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, source)
    assert proof == _path(index, hashes)
    merkle.verify_inclusion(hashes[index], index, size, proof, root)
    wrong = merkle.leaf_hash(b"not this leaf")
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(wrong, index, size, proof, root)
    if size > 1:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(hashes[index], (index + 1) % size, size, proof, root)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(hashes[index], index, size, proof[:-1], root)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_proofs_match_the_rfc_and_verify(new_size, data):
    old_size = data.draw(st.integers(min_value=1, max_value=new_size))
    hashes = _leaves(new_size)
    source = _source(hashes)
    old_root, new_root = _mth(hashes[:old_size]), _mth(hashes)
    proof = merkle.consistency_proof(old_size, new_size, source)
    assert proof == (_subproof(old_size, hashes, True) if old_size < new_size else [])
    merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    if old_size < new_size:
        forked = _leaves(old_size - 1) + [merkle.leaf_hash(b"rewritten")]
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old_size, new_size, _mth(forked), new_root, proof)
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old_size, new_size, old_root, merkle.leaf_hash(b"x"), proof)
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old_size, new_size, old_root, new_root, proof[1:] or [b"\0" * 32])


def test_known_answers_from_rfc_shapes():
    # Seven leaves: the RFC 9162 §2.1.5 example tree. The proof for d0 has three nodes, for d6 two.
    hashes = _leaves(7)
    source = _source(hashes)
    assert len(merkle.inclusion_proof(0, 7, source)) == 3
    assert len(merkle.inclusion_proof(6, 7, source)) == 2
    assert len(merkle.consistency_proof(3, 7, source)) == 4  # [c, d, g, l]
    assert len(merkle.consistency_proof(4, 7, source)) == 1
    assert len(merkle.consistency_proof(6, 7, source)) == 3
    assert merkle.root_hash(0, source) == hashlib.sha256(b"").digest()


@given(st.integers(min_value=0, max_value=300))
@settings(max_examples=60)
def test_the_streaming_frontier_gives_the_rfc_root_and_every_subtree_once(size):
    # Given leaves appended one by one to a frontier (the audit's O(log n) tree)
    hashes = _leaves(size)
    frontier = merkle.Frontier()
    completed: dict = {}
    roots = []
    for h in hashes:
        for node, digest in frontier.append(h):
            assert node not in completed  # each subtree completes once
            completed[node] = digest
        roots.append(frontier.root())
    # Then the root after every prefix is the RFC 9162 Merkle tree hash of that prefix
    assert roots == [_mth(hashes[: n + 1]) for n in range(size)]
    assert frontier.root() == _mth(hashes)
    # and the completed subtrees are exactly the stored ones, as many as subtree_count says
    assert completed == merkle.subtree_hashes_of_leaves(hashes)
    assert len(completed) == merkle.subtree_count(size)
