"""Weak links between simulated hosts: a packet-level link emulator in user space.

Why it exists: the weak links of issue 14 (a commune on 10 % or 30 % loss, 800 ms latency,
256 kbit/s, a link that goes down for a while) are what ``tc qdisc … netem`` makes, but the
kernel of the machines this project is tested on has no ``sch_netem`` ("Specified qdisc kind is
unknown", and no modules to load). What does work is network namespaces and TUN devices, so this
module does in user space what netem (+ a tbf-like bounded queue) does in the kernel, packet by
packet: a simulated host (``WeakHost``) is a network namespace whose only link to this host is a
pair of TUN devices (``10.77.N.1`` here, ``10.77.N.2`` there), and an emulator process between
the two reads every raw IP packet from one device and writes it to the other, after applying
per direction:

- random loss (each packet dropped with probability ``loss_pct``, like ``netem loss random``);
- a one-way delay (``delay_ms``, like ``netem delay``: each direction gets its own, so
  800 ms each way is a 1.6 s round trip);
- a bandwidth (``rate_kbit``): packets are serialised one after the other at that rate from a
  drop-tail queue bounded at ``queue_bytes`` (like ``netem rate`` with ``limit``, or ``tbf``);
- the link going down (``down``): packets (and those in flight) are lost, silently (``drop``,
  a cable cut) or answered with ICMP host unreachable from the link's router ``10.77.N.254``
  (``unreachable``, what the last router says when a commune's line is down), then up again;
  ``cut`` takes the link down by itself once a number of bytes has crossed it (mid-transfer,
  precisely, whatever the test process is doing) and brings it up after a while.

The kernels' own TCP stacks at both ends then see real loss, real delay and a real bottleneck,
and cope (retransmission, congestion control, RTO back-off) exactly as they would behind netem.
The emulator runs in its own process so that the timing of packets does not depend on the GIL
of the test process; it is driven by JSON lines on its stdin (``Wire``: set, down, up, cut,
stats) and exits, taking its TUN devices with it, when its stdin closes. Where ``tc netem`` is
available it is fine to keep using this emulator: the behaviour is then identical everywhere.

Around the link, as in ``bench/netns.py`` (whose forwarder is reused): the dev PKI's
OCSP/CRL/TSA server (127.0.0.1:<port>, baked into the certificates) and any other port of this
host a program on the simulated host needs (e.g. its upstream node) are bridged: a forwarder in
the namespace listens on 127.0.0.1:<port> and connects to ``10.77.N.1:<port>`` *across the weak
link*, where a forwarder on this host connects on to 127.0.0.1:<port>. A program on this host
reaches the simulated host at its address directly (end to end, no proxy: the sender's TCP is
the one that meets the loss). The node certificates name ``localhost`` and 127.0.0.1 only, so
``WeakHost.resolving()`` runs a program in a private mount namespace whose ``/etc/hosts`` says
``localhost`` is the simulated host (what DNS does for a real peer's name): certificate chain,
name and pinned fingerprint are all checked as in a deployment.

Needs root (``ip netns``, ``/dev/net/tun``); ``available()`` says whether this machine allows it.
``python bench/wire.py emulate …`` is the emulator process (started by ``Wire``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import heapq
import itertools
import json
import os
import random
import selectors
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.netns import SNI_HOSTNAME  # noqa: E402
from bench.netns import available as namespaces_available  # noqa: E402

__all__ = ["SNI_HOSTNAME", "Impairment", "WeakHost", "Wire", "available"]

SUBNET = "10.77"
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_NETNS_PY = Path(__file__).resolve().parent / "netns.py"


def available() -> str | None:
    """None if weak links can be made here, else why not (for a test's skip reason)."""
    why = namespaces_available()
    if why is not None:
        return why
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR)
    except OSError as exc:
        return f"no TUN devices (/dev/net/tun: {exc.strerror})"
    os.close(fd)
    return None


@dataclass
class Impairment:
    """What one direction of the link does to packets (all off: a clean link)."""

    loss_pct: float = 0.0
    delay_ms: float = 0.0
    #: 0: no bandwidth limit
    rate_kbit: float = 0.0
    #: the bottleneck's queue (drop-tail); None: one second at ``rate_kbit``, at least 16 KiB
    queue_bytes: int | None = None

    def queue_limit(self) -> int:
        if self.queue_bytes is not None:
            return self.queue_bytes
        return max(16 * 1024, int(self.rate_kbit * 1000 / 8))


# -- the emulator process ------------------------------------------------------------------------
def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def host_unreachable(packet: bytes, router: bytes) -> bytes | None:
    """The ICMP "destination host unreachable" a router sends back for ``packet`` (IPv4, not
    ICMP itself, first fragment), from ``router`` (4 bytes); None when none is due."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] == 1:
        return None
    if struct.unpack("!H", packet[6:8])[0] & 0x1FFF:  # not the first fragment
        return None
    ihl = (packet[0] & 0x0F) * 4
    icmp = bytearray(struct.pack("!BBHI", 3, 1, 0, 0) + packet[:ihl + 8])
    icmp[2:4] = struct.pack("!H", _checksum(bytes(icmp)))
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, 1, 0,
                                   router, packet[12:16]))
    header[10:12] = struct.pack("!H", _checksum(bytes(header)))
    return bytes(header + icmp)


@dataclass
class _Direction:
    name: str
    impairment: Impairment = field(default_factory=Impairment)
    busy_until: float = 0.0
    stats: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("packets", "bytes", "delivered_packets", "delivered_bytes", "lost", "queue_drops",
         "down_drops", "in_flight_lost", "icmp_sent"), 0))


class Emulator:
    """The forwarding loop between the two TUN devices (runs in the emulator process)."""

    def __init__(self, outer: int, inner: int, router: str, seed: int | None) -> None:
        self.fds = {outer: "outbound", inner: "inbound"}  # read from → direction
        self.peer = {outer: inner, inner: outer}
        self.dirs = {"outbound": _Direction("outbound"), "inbound": _Direction("inbound")}
        self.router = bytes(int(x) for x in router.split("."))
        self.rng = random.Random(seed)
        self.down_mode: str | None = None
        self.cut: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self.heap: list[tuple[float, int, int, bytes, str]] = []
        self.seq = itertools.count()
        self.running = True

    # control ------------------------------------------------------------------------------
    def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd.get("cmd")
        if name == "set":
            for key in ("outbound", "inbound"):
                spec = cmd.get(key, cmd.get("both"))
                if spec is not None:
                    self.dirs[key].impairment = Impairment(**spec)
                    self.dirs[key].busy_until = 0.0
            return {"ok": True}
        if name == "down":
            self._down(cmd.get("mode", "drop"), "command")
            return {"ok": True}
        if name == "up":
            self._up("command")
            return {"ok": True}
        if name == "cut":
            done = self.dirs["outbound"].stats["delivered_bytes"]  # counted from now on
            self.cut = {"at_bytes": done + int(cmd["after_bytes"]),
                        "seconds": float(cmd["seconds"]), "mode": cmd.get("mode", "drop")}
            return {"ok": True}
        if name == "stats":
            return {"ok": True, "down": self.down_mode, "events": self.events,
                    "cut_pending": self.cut is not None,
                    **{k: {**d.stats, "impairment": asdict(d.impairment)}
                       for k, d in self.dirs.items()}}
        if name == "quit":
            self.running = False
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {name!r}"}

    def _down(self, mode: str, why: str) -> None:
        if mode not in ("drop", "unreachable"):
            raise ValueError(f"down mode {mode!r}: drop or unreachable")
        self.down_mode = mode
        lost = [e for e in self.heap if e[4] != "up"]  # what was on the wire is lost
        for entry in lost:
            self.dirs[entry[4]].stats["in_flight_lost"] += 1
        self.heap = [e for e in self.heap if e[4] == "up"]
        heapq.heapify(self.heap)
        for d in self.dirs.values():
            d.busy_until = 0.0
        self.events.append({"event": "down", "mode": mode, "why": why, "at": time.time()})

    def _up(self, why: str) -> None:
        self.down_mode = None
        self.events.append({"event": "up", "why": why, "at": time.time()})

    # packets ------------------------------------------------------------------------------
    def packet(self, src: int, data: bytes, now: float) -> None:
        d = self.dirs[self.fds[src]]
        d.stats["packets"] += 1
        d.stats["bytes"] += len(data)
        if self.down_mode is not None:
            d.stats["down_drops"] += 1
            if self.down_mode == "unreachable" and (icmp := host_unreachable(
                    data, self.router)) is not None:
                os.write(src, icmp)
                d.stats["icmp_sent"] += 1
            return
        imp = d.impairment
        if imp.loss_pct and self.rng.random() * 100 < imp.loss_pct:
            d.stats["lost"] += 1
            return
        depart = now
        if imp.rate_kbit:
            rate = imp.rate_kbit * 1000 / 8  # bytes per second
            start = max(now, d.busy_until)
            if (start - now) * rate + len(data) > imp.queue_limit():
                d.stats["queue_drops"] += 1
                return
            d.busy_until = depart = start + len(data) / rate
        at = depart + imp.delay_ms / 1000
        if at <= now:
            self._deliver(self.peer[src], data, d.name)
        else:
            heapq.heappush(self.heap, (at, next(self.seq), self.peer[src], data, d.name))

    def _deliver(self, dst: int, data: bytes, direction: str) -> None:
        stats = self.dirs[direction].stats
        with contextlib.suppress(OSError):  # a full TUN queue drops, as a NIC would
            os.write(dst, data)
            stats["delivered_packets"] += 1
            stats["delivered_bytes"] += len(data)
        if (self.cut is not None and direction == "outbound"
                and stats["delivered_bytes"] >= self.cut["at_bytes"]):
            cut, self.cut = self.cut, None
            self._down(cut["mode"], f"cut at {int(stats['delivered_bytes'])} bytes delivered")
            heapq.heappush(self.heap, (time.monotonic() + cut["seconds"], next(self.seq), -1,
                                       b"", "up"))

    def due(self, now: float) -> None:
        while self.heap and self.heap[0][0] <= now:
            _at, _n, dst, data, direction = heapq.heappop(self.heap)
            if direction == "up":
                self._up("cut over")
            else:
                self._deliver(dst, data, direction)

    def run(self, control: int) -> None:
        sel = selectors.DefaultSelector()
        for fd in self.fds:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        sel.register(control, selectors.EVENT_READ)
        pending = b""
        while self.running:
            now = time.monotonic()
            timeout = max(0.0, self.heap[0][0] - now) if self.heap else 1.0
            for key, _ in sel.select(timeout):
                fd = key.fd
                if fd == control:
                    chunk = os.read(control, 65536)
                    if not chunk:
                        return
                    pending += chunk
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        if line.strip():
                            try:
                                answer = self.command(json.loads(line))
                            except (ValueError, TypeError, KeyError) as exc:
                                answer = {"ok": False, "error": str(exc)}
                            sys.stdout.write(json.dumps(answer) + "\n")
                            sys.stdout.flush()
                    continue
                for _ in range(512):  # a burst, then the timers get their turn
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    self.packet(fd, data, time.monotonic())
            self.due(time.monotonic())


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


def _emulate(args: argparse.Namespace) -> None:
    """Create both TUN devices (they live as long as this process holds them), move the inner
    one into the namespace, address both ends, then forward until stdin closes."""
    outer, inner = _open_tun(args.outer), _open_tun(args.inner)
    ns = ["ip", "netns", "exec", args.netns]
    for cmd in (["ip", "link", "set", "dev", args.inner, "netns", args.netns],
                ["ip", "addr", "add", f"{args.subnet}.1/24", "dev", args.outer],
                ["ip", "link", "set", args.outer, "up"],
                [*ns, "ip", "addr", "add", f"{args.subnet}.2/24", "dev", args.inner],
                [*ns, "ip", "link", "set", args.inner, "up"],
                [*ns, "ip", "link", "set", "lo", "up"]):
        subprocess.run(cmd, check=True, capture_output=True)
    emulator = Emulator(outer, inner, f"{args.subnet}.254", args.seed)
    print(json.dumps({"ready": True}), flush=True)
    emulator.run(sys.stdin.fileno())


# -- this host's side ----------------------------------------------------------------------------
class Wire:
    """The emulator process of one link and its control channel (JSON lines over a pipe)."""

    def __init__(self, netns: str, outer: str, inner: str, subnet: str,
                 seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "emulate", "--netns", netns,
             "--outer", outer, "--inner", inner, "--subnet", subnet,
             *(["--seed", str(seed)] if seed is not None else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            self.proc.kill()
            _out, err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"link emulator did not start: {err.strip()[-2000:]}")

    def call(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            answer = json.loads(self.proc.stdout.readline() or '{"ok": false}')
        if not answer.get("ok"):
            raise RuntimeError(f"link emulator refused {cmd}: {answer.get('error')}")
        return answer

    def set(self, both: Impairment | None = None, *, outbound: Impairment | None = None,
            inbound: Impairment | None = None) -> None:
        """Impair the link: ``both`` directions alike, or each (outbound: towards the host)."""
        self.call(cmd="set", outbound=asdict(outbound or both or Impairment()),
                  inbound=asdict(inbound or both or Impairment()))

    def down(self, mode: str = "drop") -> None:
        self.call(cmd="down", mode=mode)

    def up(self) -> None:
        self.call(cmd="up")

    def cut(self, after_bytes: int, seconds: float, mode: str = "drop") -> None:
        """Take the link down once ``after_bytes`` have crossed it towards the host, and bring it
        up again ``seconds`` later."""
        self.call(cmd="cut", after_bytes=after_bytes, seconds=seconds, mode=mode)

    def stats(self) -> dict[str, Any]:
        return self.call(cmd="stats")

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.call(cmd="quit")
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                stream.close()  # type: ignore[union-attr]


_indices = itertools.count(1)


class WeakHost:
    """One simulated host behind an emulated weak link: namespace ``name``, address ``address``
    (this host's end of the link: ``gateway``); ``bridged_ports`` of this host's 127.0.0.1 are
    reachable at 127.0.0.1 inside it, across the link."""

    def __init__(self, bridged_ports: list[int], *, seed: int | None = None) -> None:
        index = next(_indices)
        tag = f"{os.getpid() % 100000}{index}"
        self.name = f"edoc-weak-{tag}"
        self.outer, self.inner = f"ewo{tag}", f"ewi{tag}"
        self.subnet = f"{SUBNET}.{(os.getpid() * 7 + index) % 250 + 1}"
        self.gateway, self.address = f"{self.subnet}.1", f"{self.subnet}.2"
        self.ports = bridged_ports
        self.seed = seed
        self.wire: Wire | None = None
        self.hosts_file: Path | None = None
        self._forwarders: list[subprocess.Popen] = []

    def __enter__(self) -> WeakHost:
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.down()

    def up(self) -> WeakHost:
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        self.wire = Wire(self.name, self.outer, self.inner, self.subnet, self.seed)
        if self.ports:  # this host's end first: the inner forwarder connects to it
            self._forward([sys.executable, str(_NETNS_PY), "forward", self.gateway,
                           "127.0.0.1", *map(str, self.ports)])
            self._forward([*self.enter(), sys.executable, str(_NETNS_PY), "forward",
                           "127.0.0.1", self.gateway, *map(str, self.ports)])
        return self

    def _forward(self, cmd: list[str]) -> None:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self._forwarders.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"forwarder did not start: {' '.join(cmd)}")

    def enter(self) -> list[str]:
        """The command prefix that runs a program on the simulated host (its namespace)."""
        return ["ip", "netns", "exec", self.name]

    def resolving(self, hostname: str = SNI_HOSTNAME) -> list[str]:
        """The command prefix that runs a program *on this host* for which ``hostname`` is the
        simulated host: a private mount namespace whose /etc/hosts says so (the node
        certificates name ``localhost``; a peer URL ``https://localhost:PORT`` then reaches the
        simulated host across the link, and the name in its certificate matches)."""
        if self.hosts_file is None:
            fd, path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".hosts")
            os.write(fd, f"{self.address} {hostname}\n".encode())
            os.close(fd)
            self.hosts_file = Path(path)
        script = f'mount --bind {self.hosts_file} /etc/hosts && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]

    def down(self) -> None:
        for proc in reversed(self._forwarders):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        self._forwarders.clear()
        if self.wire is not None:
            self.wire.close()  # its TUN devices go with it
            self.wire = None
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        if self.hosts_file is not None:
            self.hosts_file.unlink(missing_ok=True)
            self.hosts_file = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    emulate = sub.add_parser("emulate", help="the emulator process (started by Wire)")
    emulate.add_argument("--netns", required=True)
    emulate.add_argument("--outer", required=True)
    emulate.add_argument("--inner", required=True)
    emulate.add_argument("--subnet", required=True)
    emulate.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    _emulate(args)


if __name__ == "__main__":
    main()
