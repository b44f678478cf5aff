#!/usr/bin/env python3
"""Generate the Python code for the wfstore contract from ``protos/`` into ``client/``.

Run ``python scripts/gen_protos.py`` after editing a ``.proto`` file, and commit the result.
``--check`` regenerates into a temporary directory and fails if the committed files differ.
Needs the ``dev`` extra (grpcio-tools and mypy-protobuf).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

try:
    from grpc_tools import protoc  # type: ignore[import-untyped]
except ModuleNotFoundError:
    # Run as ./scripts/gen_protos.py from a shell without the venv: use the project's venv.
    if _VENV_PYTHON.exists() and Path(sys.executable) != _VENV_PYTHON:
        os.execv(_VENV_PYTHON, [str(_VENV_PYTHON), __file__, *sys.argv[1:]])  # noqa: S606
    sys.exit("gen_protos: grpcio-tools is missing; install the dev extra: pip install -e '.[dev]'")
PROTOS = ROOT / "protos"
OUT_PACKAGE = Path("wfstore") / "v1"
CLIENT = ROOT / "client"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _plugin(name: str) -> str:
    """Return the path of a protoc plugin installed beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        sys.exit(f"gen_protos: {name} not found; install the dev extra: pip install -e '.[dev]'")
    return found


def generate(out_root: Path) -> None:
    """Run protoc over every proto in ``protos/`` and write the modules under ``out_root``."""
    well_known = Path(protoc.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *sources,
    ]
    if protoc.main(args) != 0:
        sys.exit("gen_protos: protoc failed")
    (out_root / OUT_PACKAGE / "__init__.py").write_text(
        '"""Generated protobuf and gRPC modules of the wfstore.v1 contract (do not edit)."""\n'
    )


def _generated_files(root: Path) -> set[str]:
    """Return the generated file names found in ``root/wfstore/v1``."""
    folder = root / OUT_PACKAGE
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.name.endswith(GENERATED_SUFFIXES)} | {
        "__init__.py"
    }


def check() -> int:
    """Regenerate into a temporary directory; report and fail on any difference."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        expected, actual = _generated_files(fresh), _generated_files(CLIENT)
        stale = sorted(expected ^ actual)
        stale += sorted(
            name
            for name in expected & actual
            if not filecmp.cmp(
                fresh / OUT_PACKAGE / name, CLIENT / OUT_PACKAGE / name, shallow=False
            )
        )
    if stale:
        print("gen_protos: generated code is stale:", ", ".join(stale), file=sys.stderr)
        print("run: python scripts/gen_protos.py", file=sys.stderr)
        return 1
    print("gen_protos: generated code is up to date")
    return 0


def main() -> int:
    """Parse the command line and generate or check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    if parser.parse_args().check:
        return check()
    for name in _generated_files(CLIENT) - {"__init__.py"}:
        (CLIENT / OUT_PACKAGE / name).unlink()
    generate(CLIENT)
    print(f"gen_protos: wrote {CLIENT / OUT_PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
