"""Which RPCs a search replica answers from its catalog mirror, and which only the primary
can: one table, checked against the service descriptor by tests/milvus/test_replica.py so a
new RPC cannot go unclassified. An RPC missing from the table is refused (the safe side)."""

from __future__ import annotations

from typing import Any

import grpc

from scenesearch.server.api.handlers import GuardInterceptor, handler_like
from scenesearch.v1 import scenesearch_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["SceneSearch"]

# True: answered by the replica (reads of the mirror and of Milvus, the shared media files);
# False: a write, or state only the primary holds (jobs, re-embed moves), refused with its
# address.
ON_REPLICA: dict[str, bool] = {
    "Search": True,
    "ListVideos": True,
    "GetVideo": True,
    "GetStats": True,
    "Classify": True,
    "Timeline": True,
    "GetThumbnail": True,
    "ReadVideo": True,
    "ExportClip": True,
    "ListConcepts": True,
    "GetConcept": True,
    "TemporalSearch": True,
    "IngestVideo": False,
    "UploadVideo": False,
    "DeleteVideo": False,
    "RebuildIndex": False,
    "ImportVideo": False,
    "SaveConcept": False,
    "DeleteConcept": False,
    "Reembed": False,
    "GetReembed": False,
    "WatchReembed": False,
    "CancelReembed": False,
}


def served_by_replica(method: str) -> bool:
    """`method` is a full gRPC method name, e.g. /scenesearch.v1.SceneSearch/Search."""
    service, _, name = method.lstrip("/").partition("/")
    if service != SERVICE.full_name:
        return True  # health and reflection: the replica's own
    return ON_REPLICA.get(name, False)


def refusal(primary: str, method: str) -> str:
    name = method.rsplit("/", 1)[-1]
    return f"this server is a read replica of {primary}; send {name} there"


class ReplicaInterceptor(GuardInterceptor):
    """Refuses what only the primary can do with FAILED_PRECONDITION and its address."""

    def __init__(self, primary: str) -> None:
        self._primary = primary

    def guard(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        if served_by_replica(details.method):
            return handler
        message = refusal(self._primary, details.method)

        def abort(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)

        return handler_like(handler, abort)
