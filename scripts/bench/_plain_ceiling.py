"""The plain gRPC ceiling: grpcio's own server answering wfstored's methods with canned bytes.

No wfstored code serves here: no servicers, interceptors, health, reflection, drain or
conversions. A ``grpc.server`` with wfstored's thread count and message limits serves every
method path of the benchmark (``/wfstore.v1.StateService/Load``, ...) through one generic
handler that takes the request bytes undecoded and returns the reply bytes wfstored would send
(:func:`scripts.bench._plain_messages.reply_bytes`). What remains is grpcio itself: the most
any Python gRPC server on this machine could do, the yardstick of every wfstored ratio.

    python -m scripts.bench._plain_ceiling --listen 127.0.0.1:0 --listen unix:///tmp/plain.sock

Logs a ready line in wfstored's form (``serving_line``, so ``SERVING_LINE`` finds it) to stderr
and serves until SIGTERM or SIGINT. Started by the benchmark from the repository root.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc
from wfstored.daemon.config import parse_config
from wfstored.daemon.serving_line import serving_line
from wfstored.rpc import RpcOptions

from scripts.bench._plain_messages import reply_bytes

_log = logging.getLogger("wfstored")
_CONFIG = parse_config(["--listen", "127.0.0.1:0"], environ={})  # wfstored's defaults
WORKERS = _CONFIG.workers + RpcOptions(listen=()).max_watchers
"""The server's threads: as many as wfstored's pool (its workers plus its watch slots)."""
MAX_MESSAGE_BYTES = _CONFIG.max_message_bytes
"""wfstored's default message limit, both ways."""


def _answer(reply: bytes) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        del request, context
        return reply

    return handle


def build_server(workers: int = WORKERS) -> grpc.Server:
    """Return an unstarted server answering every benchmark method path with its canned reply."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plain"),
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    services: dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]] = {}
    for path, reply in reply_bytes().items():
        service, _, method = path.strip("/").partition("/")
        services.setdefault(service, {})[method] = grpc.unary_unary_rpc_method_handler(
            _answer(reply), request_deserializer=None, response_serializer=None
        )
    for service, handlers in services.items():
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        # As wfstored (and grpcio's generated add_*_to_server) do: the registered-method path.
        server.add_registered_method_handlers(service, handlers)  # type: ignore[attr-defined]
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve on the ``--listen`` addresses until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, metavar="ADDR")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = build_server()
    addresses = []
    for address in args.listen:
        port = server.add_insecure_port(address)
        addresses.append(address if address.startswith("unix:") else f"127.0.0.1:{port}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stores = f"plain grpcio, no stores, {WORKERS} threads"
    _log.info("%s", serving_line("plain-ceiling", addresses, stores, os.getpid()))
    while not stop.wait(0.2):
        pass
    server.stop(1.0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
