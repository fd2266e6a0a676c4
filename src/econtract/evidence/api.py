"""The log's proofs over the API. Public: leaves carry no personal data and the tiles publish them anyway."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from econtract.api.errors import error_response
from econtract.api.openapi import responses
from econtract.evidence import log
from econtract.evidence.models import Leaf

router = Router(tags=["evidence"])


class ProofOut(Schema):
    leaf_index: int
    tree_size: int
    leaf_hash: str = Field(description="base64 of SHA-256(0x00 ‖ leaf)")
    inclusion_proof: list[str] = Field(description="RFC 9162 inclusion path, base64 hashes")
    checkpoint: str = Field(description="The signed checkpoint of tree_size (c2sp.org/tlog-checkpoint)")


class ProofQuery(Schema):
    tree_size: int | None = Field(None, ge=1, le=2**62, description="Default: the latest checkpoint")


class ConsistencyQuery(Schema):
    from_size: int = Field(alias="from", ge=0, le=2**62)
    to_size: int = Field(alias="to", ge=0, le=2**62)


class ConsistencyOut(Schema):
    proof: list[str]


def _leaf(event_id: UUID) -> Leaf | None:
    log.integrate_pending()
    return Leaf.objects.filter(event_id=event_id).first()


@router.get(
    "/events/{event_id}/leaf",
    auth=None,
    response=responses({}, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "The leaf: RFC 8785 JSON bytes; header X-Leaf-Index is its position",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    },
)
def event_leaf(request: HttpRequest, event_id: UUID) -> HttpResponse:
    """The exact leaf bytes (RFC 8785 JSON) whose hash is in the log."""
    leaf = _leaf(event_id)
    if leaf is None:
        return error_response("not_found", "no such event in the log", 404)
    response = HttpResponse(bytes(leaf.data), content_type="application/json")
    response["X-Leaf-Index"] = str(leaf.index)
    return response


@router.get("/events/{event_id}/proof", auth=None, response=responses({200: ProofOut}, 404, 409, 422))
def event_proof(request: HttpRequest, event_id: UUID, query: Query[ProofQuery]):  # type: ignore[no-untyped-def]
    """An inclusion proof of the event's leaf in a checkpointed tree."""
    leaf = _leaf(event_id)
    if leaf is None:
        return error_response("not_found", "no such event in the log", 404)
    if query.tree_size is None:
        checkpoint = log.checkpoint_covering(leaf.index + 1)
    else:
        found = log.checkpoint_of_size(query.tree_size)
        if found is None:
            return error_response("no_checkpoint", "no checkpoint of that tree size; omit tree_size", 409)
        checkpoint = found
    if leaf.index >= checkpoint.tree_size:
        return error_response("not_in_tree", "the event was appended after that tree size", 409)
    proof = log.inclusion_proof(leaf.index, checkpoint.tree_size)
    return {
        "leaf_index": leaf.index,
        "tree_size": checkpoint.tree_size,
        "leaf_hash": log.b64(bytes(leaf.hash)),
        "inclusion_proof": [log.b64(h) for h in proof],
        "checkpoint": checkpoint.note,
    }


@router.get("/log/consistency", auth=None, response=responses({200: ConsistencyOut}, 409, 422))
def log_consistency(request: HttpRequest, query: Query[ConsistencyQuery]):  # type: ignore[no-untyped-def]
    """An RFC 9162 consistency proof between two tree sizes."""
    if query.from_size > query.to_size:
        return error_response("invalid_range", "from must not exceed to", 422)
    if query.to_size > log.get_log().tree_size:
        return error_response("not_in_tree", "the log is smaller than that", 409)
    return {"proof": [log.b64(h) for h in log.consistency_proof(query.from_size, query.to_size)]}
