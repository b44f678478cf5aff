"""The import rules of the layers (docs/architecture.md), checked on every module's source.

- storage (``wfstored.storage``) never imports gRPC, protobuf or the generated ``wfstore.v1``,
  and uses only the kernel modules of ``wfstore`` that are free of them;
- rpc (``wfstored.rpc``) never imports a backend (nothing of ``wfstored.storage``) or the daemon;
- no module of ``wfstored`` imports a private (``_``-prefixed) module of ``wfstore``;
- ``wfstore`` imports nothing from ``wfstored``.

Every ``import`` statement counts, also those inside functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "wfstore"
SERVER = ROOT / "server" / "wfstored"
GRPC_FREE_KERNEL = (
    "awf_state",
    "deadlines",
    "domain",
    "errors",
    "go_json",
    "ids",
    "ports",
    "timestamps",
    "validation",
)
"""The kernel modules the storage layer may use: none of them imports gRPC or protobuf."""
WIRE_PACKAGES = ("grpc", "grpc_health", "grpc_reflection", "google.protobuf", "wfstore.v1")


def _module_name(path: Path) -> str:
    base = CLIENT.parent if path.is_relative_to(CLIENT) else SERVER.parent
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    return list(
        imports_in(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")
    )


def imports_in(source: str, module: str, *, is_package: bool) -> Iterator[str]:
    """Yield every module ``source`` imports (for ``from a import b``: ``a`` and ``a.b``)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def _modules(folder: Path) -> list[Path]:
    """Every module under ``folder``, the generated ``wfstore.v1`` excluded."""
    return sorted(p for p in folder.rglob("*.py") if not p.is_relative_to(CLIENT / "v1"))


def _violations(folder: Path, broken: object) -> list[str]:
    assert callable(broken)
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(folder)
        for name in _imports(path)
        if broken(name)
    ]


def _is_private_client_module(name: str) -> bool:
    return name.startswith("wfstore.") and any(
        part.startswith("_") for part in name.split(".")[1:2]
    )


def test_storage_imports_no_grpc_and_only_the_grpc_free_kernel() -> None:
    kernel = tuple(f"wfstore.{module}" for module in GRPC_FREE_KERNEL)

    def broken(name: str) -> bool:
        if _within(name, *WIRE_PACKAGES, "wfstored.rpc", "wfstored.daemon"):
            return True
        return _within(name, "wfstore") and not _within(name, *kernel)

    assert _violations(SERVER / "storage", broken) == []


def test_the_kernel_the_storage_layer_uses_imports_no_grpc() -> None:
    offending = [
        f"wfstore/{module}.py imports {name}"
        for module in GRPC_FREE_KERNEL
        for name in _imports(CLIENT / f"{module}.py")
        if _within(name, *WIRE_PACKAGES) or _is_private_client_module(name)
    ]
    assert offending == []


def test_rpc_imports_no_backend_and_not_the_daemon() -> None:
    def broken(name: str) -> bool:
        return _within(name, "wfstored.storage", "wfstored.daemon")

    assert _violations(SERVER / "rpc", broken) == []


def test_no_server_module_imports_a_private_client_module() -> None:
    assert _violations(SERVER, _is_private_client_module) == []


def test_the_client_package_imports_nothing_of_the_server() -> None:
    assert _violations(CLIENT, lambda name: _within(name, "wfstored")) == []


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("wfstored.storage.sqlite", "grpc"),
        ("wfstored.storage.files", "grpc"),
        ("wfstored.storage", "grpc"),
        ("wfstored.storage", "wfstored.rpc"),
        ("wfstore.validation", "grpc"),
        ("wfstore", "wfstored"),
    ],
)
def test_importing_a_layer_loads_nothing_it_must_not_use(module: str, forbidden: str) -> None:
    """The same rules at run time, in a fresh interpreter, package ``__init__`` files included."""
    code = (
        f"import sys, {module}; "
        f"sys.exit(any(m == {forbidden!r} or m.startswith({forbidden + '.'!r}) "
        "for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert done.returncode == 0, f"importing {module} loads {forbidden}"


def test_the_rules_see_imports_that_break_them() -> None:
    """The parser finds plain, from, relative and nested imports (so the rules can fail)."""
    source = "import grpc\nfrom wfstore import _client\ndef f():\n    from ..rpc import server\n"
    found = set(imports_in(source, "wfstored.storage.shared.example", is_package=False))
    assert {"grpc", "wfstore._client", "wfstored.storage.rpc.server"} <= found
    assert _is_private_client_module("wfstore._client")
    assert not _is_private_client_module("wfstore.validation")
