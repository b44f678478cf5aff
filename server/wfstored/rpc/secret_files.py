"""Reading a secret (a token file, a TLS private key) only if no other user can change it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["SecretFileError", "read_secret_file"]


class SecretFileError(Exception):
    """A secret file cannot be read, or others may read or change it; the message says which."""


def read_secret_file(path: Path, what: str) -> bytes:
    """Return the bytes of ``path``, refusing a file that others may read or change.

    The rule is PostgreSQL's for its TLS key: a file owned by the daemon's user must give no
    access to group or others (0600 or tighter); a file owned by root may also be read by its
    group (0640 or tighter), which is how secret mounts that several services share are set up.
    Any other owner is refused, since that user could change it. The mode is taken from the
    open descriptor, so a file swapped in between the check and the read is not a way around it.
    """
    try:
        # os.open makes the descriptor non-inheritable (close-on-exec, PEP 446).
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SecretFileError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretFileError(f"{what} {path} is not a regular file")
        _check_owner_and_mode(path, what, info)
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read()
    except OSError as exc:
        raise SecretFileError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _check_owner_and_mode(path: Path, what: str, info: os.stat_result) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid == 0:
        allowed, fix = 0o640, "chmod 640"
    elif info.st_uid == os.geteuid():
        allowed, fix = 0o600, "chmod 600"
    else:
        raise SecretFileError(
            f"{what} {path} belongs to user id {info.st_uid}, who could change it; it must "
            "belong to the daemon's user or to root"
        )
    if mode & ~allowed & 0o777:
        raise SecretFileError(
            f"{what} {path} has mode {mode:03o}, so other users may read or change it; "
            f"run '{fix} {path}'"
        )
