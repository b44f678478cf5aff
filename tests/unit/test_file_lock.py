"""The stripe lock excludes other processes, including a child forked while it was held."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from wfstored.storage.files.file_lock import FileLock


def test_another_process_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "stripe.lock"
    child = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from wfstored.storage.files.file_lock import FileLock
        with FileLock(Path({str(path)!r})):
            print(time.time(), flush=True)
        """
    )
    lock = FileLock(path)
    with lock:
        process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        released = time.time()
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert float(out) >= released
    lock.close()


def test_a_forked_child_does_not_share_the_parents_lock(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "stripe.lock")
    read_end, write_end = os.pipe()
    with lock:
        pid = os.fork()
        if pid == 0:  # the child: it must wait for the parent to release
            os.close(read_end)
            with lock:
                os.write(write_end, str(time.time()).encode())
            os._exit(0)
        os.close(write_end)
        time.sleep(0.5)
        released = time.time()
    acquired = float(os.read(read_end, 100))
    os.close(read_end)
    assert os.waitpid(pid, 0)[1] == 0
    assert acquired >= released
    lock.close()
