"""Hosts apart on one machine: a worker in its own network and mount namespace, bridged to the
"network" (the driver's loopback) only on the ports it may reach.

Loopback is per network namespace, and joining two namespaces by a veth pair needs CAP_NET_ADMIN
in the outer one, so unprivileged tests cannot route between them.  Both sides see the same
filesystem, though, so TCP ports are relayed through Unix sockets in a shared folder:

    host side:  unix SOCKS/host-P  → tcp 127.0.0.1:P      for the scheduler, S3 and every worker port
                tcp 127.0.0.1:W    → unix SOCKS/ns-W      a worker's own port, for the scheduler and peers
    guest side: tcp 127.0.0.1:P    → unix SOCKS/host-P    the ports this worker may reach
                unix SOCKS/ns-W    → tcp 127.0.0.1:W      its own port

Every address is the same number on both sides, so Dask's addresses mean the same thing
everywhere.  The guest also mounts an empty tmpfs over the folders it must not see (the driver's).

    python netns.py host SOCKS PORT...                      (in the driver's namespaces)
    unshare -Urnm python netns.py guest SOCKS OWN --reach P... --hide DIR... -- CMD...

The guest exits with its command's code (128+N when killed by signal N).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
import sys
from collections.abc import Awaitable, Callable

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other side reads its EOF as it would over TCP


def _bridge(connect: Connect) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far_reader, far_writer = await connect()
        except OSError:  # nobody listening there (a dead worker): refuse, as a closed port would
            writer.close()
            return
        await asyncio.gather(_pump(reader, far_writer), _pump(far_reader, writer))
        far_writer.close()
        writer.close()

    return handle


def _to_tcp(port: int) -> Connect:
    return lambda: asyncio.open_connection("127.0.0.1", port)


def _to_unix(path: str) -> Connect:
    return lambda: asyncio.open_unix_connection(path)


async def _serve_unix(path: str, connect: Connect) -> asyncio.AbstractServer:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by an earlier guest for the same port
    return await asyncio.start_unix_server(_bridge(connect), path)


async def host(socks: str, ports: list[int], workers: list[int]) -> None:
    servers = [await _serve_unix(f"{socks}/host-{p}", _to_tcp(p)) for p in ports]
    servers += [
        await asyncio.start_server(_bridge(_to_unix(f"{socks}/ns-{w}")), "127.0.0.1", w) for w in workers
    ]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def _loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2: a new network namespace starts with lo down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _hide(folder: str) -> None:
    """Mount an empty tmpfs over `folder` (in this mount namespace only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", 0, b"size=1m,mode=0") != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {folder}: {os.strerror(err)}")


async def guest(socks: str, own: int, reach: list[int], command: list[str]) -> int:
    await _serve_unix(f"{socks}/ns-{own}", _to_tcp(own))
    for p in reach:
        await asyncio.start_server(_bridge(_to_unix(f"{socks}/host-{p}")), "127.0.0.1", p)
    proc = await asyncio.create_subprocess_exec(*command)
    rc = await proc.wait()
    return 128 - rc if rc < 0 else rc  # killed by a signal: the shell's 128+N, so the parent can tell


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="side", required=True)
    h = sub.add_parser("host")
    h.add_argument("socks")
    h.add_argument("--reach", type=int, nargs="*", default=[])
    h.add_argument("--workers", type=int, nargs="*", default=[])
    g = sub.add_parser("guest")
    g.add_argument("socks")
    g.add_argument("own", type=int)
    g.add_argument("--reach", type=int, nargs="*", default=[])
    g.add_argument("--hide", nargs="*", default=[])
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    if args.side == "host":
        asyncio.run(host(args.socks, args.reach + args.workers, args.workers))
        return
    _loopback_up()
    for folder in args.hide:
        _hide(folder)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(asyncio.run(guest(args.socks, args.own, args.reach, argv[cut + 1 :])))


if __name__ == "__main__":
    main()
