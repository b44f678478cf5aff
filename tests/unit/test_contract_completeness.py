"""Every RPC in the contract has a servicer method and a client method, and nothing extra."""

from __future__ import annotations

import inspect

import pytest
from wfstore import _aio_client, _client, _operations, _remote
from wfstore.v1 import daemon_pb2, history_pb2, state_pb2
from wfstored.rpc import servicers

# Client methods are named in the domain's words; each maps to exactly one RPC.
CLIENT_METHOD_FOR_RPC = {
    "StateService": {
        "Save": "save",
        "Load": "load",
        "List": "list_page",
        "Delete": "delete",
        "Watch": "watch",
    },
    "HistoryService": {
        "Record": "record",
        "RecordBatch": "record_batch",
        "List": "list_page",
        "GetStats": "get_stats",
        "Cleanup": "cleanup",
    },
}
# Public client methods that are not one RPC of their own: they follow pages, read what another
# RPC returns (get: Load's state and version; wait_for: Load, then Watch), or end the handle.
CLIENT_HELPERS = {"list", "get", "close", "wait_for"}
SERVICES = [
    (state_pb2, "StateService", servicers.StateServicer, _remote.RemoteStateStore),
    (history_pb2, "HistoryService", servicers.HistoryServicer, _remote.RemoteHistoryStore),
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


@pytest.mark.parametrize(
    ("blocking", "asyncio_"),
    [
        (_remote.RemoteStateStore, _aio_client.AsyncStateStore),
        (_remote.RemoteHistoryStore, _aio_client.AsyncHistoryStore),
    ],
)
def test_the_asyncio_client_has_the_same_surface(blocking: type, asyncio_: type) -> None:
    assert _public(asyncio_) == _public(blocking)
    for name in _public(blocking) - {"close"}:
        assert inspect.iscoroutinefunction(getattr(asyncio_, name)), name
        assert (
            inspect.signature(getattr(asyncio_, name)).parameters.keys()
            == inspect.signature(getattr(blocking, name)).parameters.keys()
        )


def test_every_operation_is_used_by_both_clients() -> None:
    defined = {name for name in _operations.__all__ if name != "Operation"}
    for modules in ((_remote, _client), (_aio_client,)):
        source = "".join(inspect.getsource(module) for module in modules)
        assert {name for name in defined if f"ops.{name}" in source} == defined, modules


def test_the_daemon_service_is_served_and_called_by_both_clients() -> None:
    service = daemon_pb2.DESCRIPTOR.services_by_name["DaemonService"]
    assert {m.name for m in service.methods} == {"GetServerInfo"}
    assert _public(servicers.DaemonServicer) == {"GetServerInfo"}
    assert inspect.iscoroutinefunction(_aio_client.Client.server_info)
    assert not inspect.iscoroutinefunction(_client.Client.server_info)
