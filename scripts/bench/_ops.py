"""What one benchmark call does, for every cell: the operation a client thread repeats.

A :class:`CellSpec` names the implementation, the operation, the transport and the target;
:func:`build_operation` turns it into a callable for one client thread, using connections
kept in a per-process :class:`Resources` so that cells do not pay for connecting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from wfstore import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Client,
    ConflictError,
    HistoryFilter,
    HistoryStore,
    StateStore,
)
from wfstore._client import channel_settings  # the options wfstore.Client's channel has
from wfstored import JSONStore, SQLiteHistoryStore
from wfstored.storage.shared.history_schema import SELECT_COLUMNS, TABLE, insert_statement
from wfstored.storage.shared.record_rows import record_row

from scripts.bench._payloads import LIST_NAME, STATE_IDS, make_record, make_state, state_bytes
from scripts.bench._plain_messages import PATHS, request_bytes

PLAIN = "plain"
"""The plain gRPC ceiling, reached by a plain grpcio client with canned request bytes."""
GRPC_IMPLS = ("ceiling", "wfstored", "wfstored-pg")
"""Implementations reached through ``wfstore.Client``."""
CLIENT_TIMEOUT = 120.0
"""Every client's deadline per call, in seconds."""
PG_INSERT = insert_statement("%s")
"""The peer's insert: the same row and conflict rule as wfstored's SQLite insert."""
PG_STAGING = f"CREATE TEMPORARY TABLE IF NOT EXISTS staging (LIKE {TABLE}) ON COMMIT DELETE ROWS"
"""The temporary table a ``COPY+merge`` batch is copied into (one per connection)."""
PG_MERGE = f"INSERT INTO {TABLE} SELECT * FROM staging ON CONFLICT DO NOTHING RETURNING id"  # noqa: S608
"""Moves a ``COPY+merge`` batch into the table, returning the ids it inserted."""
CLEANUP_AGE = timedelta(days=365)
"""The Cleanup cell's ``older_than``: older than any seeded record, so it deletes nothing."""


@dataclass(frozen=True, kw_only=True)
class CellSpec:
    """One cell: which implementation, operation, transport, concurrency and target."""

    impl: str
    op: str
    transport: str
    concurrency: int
    target: str
    batch: int = 1
    tag: str = ""
    pool: int = 0

    @property
    def key(self) -> tuple[str, str, str, int, int]:
        """What identifies the cell across repetitions."""
        return (self.impl, self.op, self.transport, self.concurrency, self.batch)


@dataclass
class Resources:
    """Connections and stores one client process keeps between cells."""

    clients: dict[str, Client] = field(default_factory=dict)
    channels: dict[str, grpc.Channel] = field(default_factory=dict)
    embedded: dict[str, tuple[JSONStore, SQLiteHistoryStore]] = field(default_factory=dict)
    redis: dict[str, Any] = field(default_factory=dict)
    postgres: dict[tuple[str, int], Any] = field(default_factory=dict)
    postgres_stores: dict[str, tuple[StateStore, HistoryStore]] = field(default_factory=dict)

    def client(self, target: str) -> Client:
        """Return this process's client for ``target``, connecting on first use."""
        if target not in self.clients:
            client = Client(target, timeout=CLIENT_TIMEOUT)
            client.wait_until_ready(30)
            self.clients[target] = client
        return self.clients[target]

    def channel(self, target: str) -> grpc.Channel:
        """Return this process's plain grpcio channel to ``target``, connected on first use.

        Its options are ``wfstore.Client``'s (message limits, round-robin balancing).
        """
        if target not in self.channels:
            options = channel_settings(DEFAULT_MAX_MESSAGE_BYTES, ())
            channel = grpc.insecure_channel(target, options=options)
            grpc.channel_ready_future(channel).result(timeout=30)
            self.channels[target] = channel
        return self.channels[target]

    def stores(self, data_dir: str) -> tuple[JSONStore, SQLiteHistoryStore]:
        """Return this process's embedded stores on ``data_dir``."""
        if data_dir not in self.embedded:
            self.embedded[data_dir] = (
                JSONStore(f"{data_dir}/state"),
                SQLiteHistoryStore(f"{data_dir}/history.db"),
            )
        return self.embedded[data_dir]

    def pg_stores(self, url: str) -> tuple[StateStore, HistoryStore]:
        """Return this process's embedded PostgreSQL stores on ``url`` (one pool each)."""
        if url not in self.postgres_stores:
            from wfstored import PostgresHistoryStore, PostgresStateStore  # noqa: PLC0415

            self.postgres_stores[url] = (
                PostgresStateStore(url, pool_size=32),
                PostgresHistoryStore(url, pool_size=32),
            )
        return self.postgres_stores[url]

    def redis_client(self, target: str) -> Any:  # noqa: ANN401 (redis-py is untyped here)
        """Return a redis-py client (thread-safe, pooled) for ``host:port`` or ``unix:path``."""
        if target not in self.redis:
            import redis  # noqa: PLC0415 (an optional dependency, needed only with peers)

            if target.startswith("unix:"):
                self.redis[target] = redis.Redis(unix_socket_path=target.removeprefix("unix:"))
            else:
                host, _, port = target.rpartition(":")
                self.redis[target] = redis.Redis(host=host, port=int(port))
        return self.redis[target]

    def pg_connection(self, conninfo: str, thread: int) -> Any:  # noqa: ANN401 (untyped)
        """Return the PostgreSQL connection of client thread ``thread`` (autocommit)."""
        key = (conninfo, thread)
        if key not in self.postgres:
            import psycopg  # noqa: PLC0415 (an optional dependency, needed only with peers)

            self.postgres[key] = psycopg.connect(conninfo, autocommit=True)
        return self.postgres[key]

    def close(self) -> None:
        """Close every connection and store."""
        for client in self.clients.values():
            client.close()
        for channel in self.channels.values():
            channel.close()
        for state, history in self.embedded.values():
            state.close()
            history.close()
        for connection in self.postgres.values():
            connection.close()
        for pg_state, pg_history in self.postgres_stores.values():
            pg_state.close()
            pg_history.close()
        for client in self.redis.values():
            client.close()


class Operation:
    """One client thread's call: ``op(n)`` makes call number ``n`` of the thread."""

    def __init__(self, call: Callable[[int], object]) -> None:
        """Wrap ``call``."""
        self.call = call
        self.misses = 0
        """Delete calls that found their pool used up (they deleted a missing id)."""

    def __call__(self, n: int) -> None:
        """Make call number ``n``."""
        self.call(n)


def _port_call(
    spec: CellSpec, state: StateStore, history: HistoryStore, thread: int, pool: Iterator[int]
) -> Operation:
    """Return the call of ``spec.op`` on a StateStore and a HistoryStore."""
    own_state = make_state(STATE_IDS[thread % len(STATE_IDS)])
    list_filter = HistoryFilter(workflow_name=LIST_NAME, limit=20)
    stats_filter = HistoryFilter(workflow_name=LIST_NAME)
    prefix = f"{spec.tag}-{thread}"

    def save_if(_: int) -> None:
        """Save under the version this thread's last save returned (the first: a get)."""
        if not versions:
            stored = state.get(own_state.workflow_id)
            versions.append(0 if stored is None else stored.version)
        try:
            versions[0] = state.save(own_state, expected_version=versions[0])
        except ConflictError as exc:  # another cell's thread saved this id meanwhile
            versions[0] = exc.current_version or 0
            raise

    versions: list[int] = []

    def batch(n: int) -> None:
        history.record_batch([make_record(f"b-{prefix}-{n}-{k}") for k in range(spec.batch)])

    calls: dict[str, Callable[[int], object]] = {
        "Save": lambda _: state.save(own_state),
        "SaveIf": save_if,
        "Load": lambda n: state.load(STATE_IDS[(thread * 7 + n) % len(STATE_IDS)]),
        "List": lambda _: state.list_page(),
        "Record": lambda n: history.record(make_record(f"r-{prefix}-{n}")),
        "RecordBatch": batch,
        "HistoryList": lambda _: history.list_page(list_filter),
        "GetStats": lambda _: history.get_stats(stats_filter),
        "Cleanup": lambda _: history.cleanup(CLEANUP_AGE),
    }
    if spec.op != "Delete":
        return Operation(calls[spec.op])

    def delete(_: int) -> None:
        index = next(pool, None)
        if index is None:
            operation.misses += 1
        state.delete(f"del-{spec.tag}-{index}")

    operation = Operation(delete)
    return operation


def _redis_call(spec: CellSpec, resources: Resources, thread: int) -> Operation:
    client = resources.redis_client(spec.target)
    workflow_id = STATE_IDS[thread % len(STATE_IDS)]
    value = state_bytes(workflow_id)
    if spec.op == "SET":
        return Operation(lambda _: client.set(f"state:{workflow_id}", value))
    return Operation(lambda n: client.get(f"state:{STATE_IDS[(thread * 7 + n) % 100]}"))


def _postgres_call(spec: CellSpec, resources: Resources, thread: int) -> Operation:
    """Return the direct psycopg peer's call: one row per commit, or a batch in one transaction.

    A batch goes in by ``spec.op``: ``INSERT`` is ``executemany`` (pipelined by psycopg);
    ``COPY`` copies straight into the table (no conflict rule: the floor of any bulk load);
    ``COPY+merge`` copies into a temporary table and moves the rows over with ``INSERT ...
    SELECT ... ON CONFLICT DO NOTHING RETURNING id``, as an adapter that must spot retried
    ids would.
    """
    connection = resources.pg_connection(spec.target, thread)
    prefix = f"{spec.tag}-{thread}"
    if spec.batch == 1:
        return Operation(
            lambda n: connection.execute(PG_INSERT, record_row(make_record(f"r-{prefix}-{n}")))
        )
    if spec.op == "COPY+merge":
        connection.execute(PG_STAGING)

    def insert_batch(n: int) -> None:
        rows = [record_row(make_record(f"b-{prefix}-{n}-{k}")) for k in range(spec.batch)]
        with connection.transaction(), connection.cursor() as cursor:
            if spec.op == "INSERT":
                cursor.executemany(PG_INSERT, rows)
                return
            table = "staging" if spec.op == "COPY+merge" else TABLE
            with cursor.copy(f"COPY {table} ({SELECT_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if spec.op == "COPY+merge":
                cursor.execute(PG_MERGE).fetchall()

    return Operation(insert_batch)


def _plain_call(spec: CellSpec, resources: Resources) -> Operation:
    """Return the plain client's call: canned request bytes in, reply bytes out, no decoding."""
    method = resources.channel(spec.target).unary_unary(
        PATHS[spec.op], request_serializer=None, response_deserializer=None
    )
    request = request_bytes(spec.op, spec.batch)
    return Operation(lambda _: method(request, timeout=CLIENT_TIMEOUT))


def build_operation(
    spec: CellSpec, resources: Resources, thread: int, pool: Iterator[int]
) -> Operation:
    """Return the operation client thread ``thread`` repeats.

    ``pool`` hands out the indexes of the ids a Delete cell deletes; it is shared by the
    threads of one process (``next`` on an iterator of ``range`` is atomic under the GIL).
    """
    if spec.impl == PLAIN:
        return _plain_call(spec, resources)
    if spec.impl in GRPC_IMPLS:
        client = resources.client(spec.target)
        return _port_call(spec, client.state, client.history, thread, pool)
    if spec.impl == "embedded":
        state, history = resources.stores(spec.target)
        return _port_call(spec, state, history, thread, pool)
    if spec.impl == "embedded-pg":
        pg_state, pg_history = resources.pg_stores(spec.target)
        return _port_call(spec, pg_state, pg_history, thread, pool)
    if spec.impl.startswith("redis"):
        return _redis_call(spec, resources, thread)
    if spec.impl == "postgres":
        return _postgres_call(spec, resources, thread)
    raise ValueError(f"unknown implementation {spec.impl!r}")


def record_batch_available() -> bool:
    """Whether the client and the embedded store have ``record_batch`` (RecordBatch RPC)."""
    probe = Client("127.0.0.1:1")
    try:
        return hasattr(probe.history, "record_batch") and hasattr(
            SQLiteHistoryStore, "record_batch"
        )
    finally:
        probe.close()
