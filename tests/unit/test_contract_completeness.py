"""Every RPC in the contract has a servicer method and a client method, and nothing extra."""

from __future__ import annotations

import pytest
from wfstore import _remote
from wfstore.v1 import history_pb2, state_pb2
from wfstored import _servicers

# Client methods are named in the domain's words; each maps to exactly one RPC.
CLIENT_METHOD_FOR_RPC = {
    "StateService": {"Save": "save", "Load": "load", "List": "list_page", "Delete": "delete"},
    "HistoryService": {
        "Record": "record",
        "RecordBatch": "record_batch",
        "List": "list_page",
        "GetStats": "get_stats",
        "Cleanup": "cleanup",
    },
}
# Public client methods that are not one RPC: they follow pages or end the handle.
CLIENT_HELPERS = {"list", "close"}
SERVICES = [
    (state_pb2, "StateService", _servicers.StateServicer, _remote.RemoteStateStore),
    (history_pb2, "HistoryService", _servicers.HistoryServicer, _remote.RemoteHistoryStore),
]


def _public(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


@pytest.mark.parametrize(("module", "service", "servicer", "client"), SERVICES)
def test_servicer_and_client_cover_every_rpc(
    module: object, service: str, servicer: type, client: type
) -> None:
    rpcs = {m.name for m in module.DESCRIPTOR.services_by_name[service].methods}  # type: ignore[attr-defined]
    assert _public(servicer) == rpcs
    assert set(CLIENT_METHOD_FOR_RPC[service]) == rpcs
    assert _public(client) - CLIENT_HELPERS == set(CLIENT_METHOD_FOR_RPC[service].values())
