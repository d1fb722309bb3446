"""Free ports on loopback for servers that another process binds a moment later: an agent's
OpenClaw gateway and its pre-warm stand-in, the dev stack's ports in tests and benchmarks.

Binding port 0 gets a port from the kernel's ephemeral range
(`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 by default), the range every outgoing
connection on the machine takes its source port from. A port picked that way and bound later
by someone else can be taken in between by any connection: a CI run saw the aws dev stack's
moto fail to listen on the port its harness had picked. Ports below that range are never
handed out implicitly, so a free one stays free until something binds it on purpose. (A
server that binds at once should bind port 0 itself: `local/serve.py`'s `bind`.)
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Final

EPHEMERAL_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
LINUX_EPHEMERAL: Final = (32768, 60999)
LOWEST: Final = 10_000
"""Below this are the well-known and commonly configured ports."""
TRIES: Final = 200


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range (Linux's default where it cannot be read)."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return LINUX_EPHEMERAL
    return low, high


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `host:port` now (a port in TIME_WAIT counts as free,
    as it does for uvicorn and Node, which set SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", *, count: int = 1) -> int:
    """A port on `host` below the ephemeral range that is free with the `count - 1` after it
    (the aws dev stack's moto takes the port after the stack's). Where the range starts too
    low to leave room, the kernel's choice (ephemeral) instead, for `count` 1."""
    low, _ = ephemeral_range()
    top = low - count
    if top > LOWEST:
        for _ in range(TRIES):
            port = LOWEST + secrets.randbelow(top - LOWEST)
            if all(is_free(port + n, host) for n in range(count)):
                return port
    if count == 1:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no {count} free consecutive ports on {host} after {TRIES} tries")
