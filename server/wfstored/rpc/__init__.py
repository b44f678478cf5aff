"""The RPC layer: gRPC only. It serves the two ports and knows no concrete backend.

:func:`start_server` binds the listeners (:mod:`~wfstored.rpc.listeners`), registers the
servicers (:mod:`~wfstored.rpc.registration`, :mod:`~wfstored.rpc.servicers`), guards them
with TLS (:mod:`~wfstored.rpc.tls`) and tokens (:mod:`~wfstored.rpc.auth`), and drains calls on
shutdown (:mod:`~wfstored.rpc.drain`).
"""

from wfstored.rpc.listeners import ListenError
from wfstored.rpc.server import Protection, RpcOptions, RunningServer, start_server

__all__ = ["ListenError", "Protection", "RpcOptions", "RunningServer", "start_server"]
