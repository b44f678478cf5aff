"""A small tmpfs mounted for one test, so that a disk really fills up; root only."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(size_mib: int, parent: Path | None = None) -> Iterator[Path]:
    """Mount a tmpfs of ``size_mib`` MiB in a new directory under ``parent`` (or the temp dir).

    Skips the test where mounting is not allowed (not root, no capability). Unmounts and
    removes the directory afterwards.
    """
    if os.geteuid() != 0:
        pytest.skip("filling a real disk needs a small filesystem mounted, which needs root")
    mount_point = Path(tempfile.mkdtemp(prefix="wfs-tmpfs-", dir=parent))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)
        mount_point.rmdir()


def grow(mount_point: Path, size_mib: int) -> None:
    """Make the tmpfs at ``mount_point`` ``size_mib`` MiB large; its files stay."""
    subprocess.run(
        ["mount", "-o", f"remount,size={size_mib}m", str(mount_point)],
        check=True,
        capture_output=True,
    )
