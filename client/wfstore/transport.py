"""What the client and the daemon agree on about connections (shared kernel).

Which hosts count as this machine, and what a bearer token may contain. Part of the kernel
that the client and the daemon share: public and stable within the ``wfstore`` distribution.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

__all__ = ["TOKEN_PATTERN", "is_loopback_host"]

TOKEN_PATTERN: Final = re.compile(r"[\x21-\x7e]+")
"""What a bearer token may be: printable ASCII, no spaces (what an HTTP/2 header value carries)."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP literal; names are not resolved."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
