"""Dropping one client's connection from inside the server, for the limits gRPC (through pyarrow) gives no
hook for: an upload that stopped sending data holds its call open forever, and a blocked read cannot
be interrupted. Shutting down the TCP socket of that peer ends the read (the call shows as cancelled)
and frees everything it held. Linux only (/proc); elsewhere nothing is dropped.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from pathlib import Path

_PEER = re.compile(r"ipv4:(?P<v4>[\d.]+):(?P<p4>\d+)|ipv6:\[(?P<v6>[^\]]+)\]:(?P<p6>\d+)")
Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


def _peer_address(peer: str) -> Address | None:
    """gRPC's peer text ('ipv4:127.0.0.1:5555', 'ipv6:[::1]:5555') as an address, IPv4-mapped unwrapped."""
    m = _PEER.fullmatch(peer)
    if not m:
        return None
    host, port = (m["v4"], m["p4"]) if m["v4"] else (m["v6"].split("%")[0], m["p6"])
    return _plain(ipaddress.ip_address(host)), int(port)


def _plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _hex_address(text: str) -> Address:
    """/proc/net/tcp's 'ADDR:PORT' (the address as native-endian 32-bit words in hex)."""
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # little-endian words on x86/arm
    return _plain(ipaddress.ip_address(words)), int(port, 16)


def _inodes_to(remote: Address) -> set[str]:
    found = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and _hex_address(parts[2]) == remote:
                found.add(parts[9])
    return found


def drop_connection(peer: str) -> bool:
    """Shut down this process's TCP connection(s) to ``peer`` (gRPC's peer text); True if one was found."""
    remote = _peer_address(peer)
    if remote is None:
        return False
    inodes = _inodes_to(remote)
    dropped = False
    fd_dir = Path("/proc/self/fd")
    for fd in os.listdir(fd_dir) if inodes else []:
        try:
            target = os.readlink(fd_dir / fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            try:
                dup = socket.socket(fileno=os.dup(int(fd)))
            except OSError:
                continue
            try:
                dup.shutdown(socket.SHUT_RDWR)  # gRPC's own descriptor sees the end; closing the dup leaves it
                dropped = True
            except OSError:
                pass
            finally:
                dup.close()
    return dropped
