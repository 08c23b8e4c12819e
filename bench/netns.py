"""Simulated hosts for the scale-out bench: Linux network namespaces joined to this host by veth
pairs, each given its own CPU core(s).

Why: "N hub workers on several hosts" is measured on one machine by giving each worker its own
network stack (its own loopback, its own address, traffic crossing a veth link as it would cross
a NIC) and its own core (``taskset``), so N = 2 is two hosts of one core each, not two processes
sharing the scheduler's whim.

A worker in a namespace needs what the hub needs from "the data centre": PostgreSQL (this host's
127.0.0.1:5432) and the dev PKI's OCSP/CRL/TSA server (127.0.0.1:<port>, the address baked into
the certificates). Both are bridged: inside the namespace a forwarder listens on 127.0.0.1:<port>
and connects to this host's end of the veth link, where a forwarder in the bench process connects
on to 127.0.0.1:<port>. Senders reach the worker at its namespace address directly (no
forwarder on the packages' path). The node certificates name 127.0.0.1 and ``localhost`` only,
so clients of a namespaced worker send SNI ``localhost`` (``SNI_HOSTNAME``) and still check the
certificate chain and name, and the bench checks every receipt against the hub's pinned
certificate as before.

Needs root (``ip netns``, veth); ``available()`` says whether this machine allows it.
``python bench/netns.py forward LISTEN_HOST TARGET_HOST PORT...`` is the in-namespace forwarder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: clients of a worker in a namespace present this name (the dev node certificates' DNS name)
SNI_HOSTNAME = "localhost"
SUBNET = "10.231"


def available() -> str | None:
    """None if simulated hosts can be made here, else why not (for the bench's error)."""
    if os.geteuid() != 0:
        return "simulated hosts (network namespaces) need root"
    probe = f"edoc-probe-{os.getpid()}"
    done = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"ip netns add failed: {done.stderr.strip() or done.returncode}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


# -- forwarding ---------------------------------------------------------------------------------
async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _forward(listen_host: str, target_host: str, ports: list[int],
                   ready: threading.Event | None = None) -> None:
    async def serve(port: int) -> asyncio.Server:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                tr, tw = await asyncio.open_connection(target_host, port)
            except OSError:
                w.close()
                return
            await asyncio.gather(_pump(r, tw), _pump(tr, w))

        return await asyncio.start_server(handle, listen_host, port, reuse_address=True)

    servers: list[asyncio.Server] = []
    try:
        for p in ports:
            servers.append(await serve(p))
        if ready is not None:
            ready.set()
        else:
            print("ready", flush=True)
        await asyncio.gather(*(s.serve_forever() for s in servers))
    finally:  # the listening sockets go with the forwarder: a later host may reuse the address
        for server in servers:
            server.close()


class Host:
    """One simulated host: namespace ``name``, address ``address`` (this host: ``gateway``)."""

    def __init__(self, index: int, cores: list[int], bridged_ports: list[int],
                 cpu_share: float = 1.0) -> None:
        """``cpu_share`` < 1: the host's programs get that fraction of each of its cores (a CPU
        quota), leaving the rest of the core to what every host shares (senders, PostgreSQL,
        the kernel's disk writes), so one and two hosts are compared on equal terms."""
        tag = f"{os.getpid() % 10000}{index}"
        self.name = f"edoc-bench-{tag}"
        self.veth = (f"edb{tag}a", f"edb{tag}b")
        self.gateway = f"{SUBNET}.{index}.1"
        self.address = f"{SUBNET}.{index}.2"
        self.cores = cores
        self.ports = bridged_ports
        self.cpu_share = cpu_share
        self.cgroup: Path | None = None
        self._inside: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: Any = None

    def up(self) -> Host:
        a, b = self.veth
        for cmd in (["ip", "netns", "add", self.name],
                    ["ip", "link", "add", a, "type", "veth", "peer", "name", b],
                    ["ip", "link", "set", b, "netns", self.name],
                    ["ip", "addr", "add", f"{self.gateway}/24", "dev", a],
                    ["ip", "link", "set", a, "up"],
                    [*self.enter(), "ip", "addr", "add", f"{self.address}/24", "dev", b],
                    [*self.enter(), "ip", "link", "set", b, "up"],
                    [*self.enter(), "ip", "link", "set", "lo", "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        if self.cpu_share < 1.0:
            self._limit_cpu()
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

        async def start() -> asyncio.Task:
            return asyncio.ensure_future(_forward(self.gateway, "127.0.0.1", self.ports, ready))

        self._task = asyncio.run_coroutine_threadsafe(start(), self._loop).result(5)
        if not ready.wait(10):
            why = self._task.exception() if self._task.done() else "timeout"
            raise RuntimeError(f"forwarder on {self.gateway} did not start: {why}")
        self._inside = subprocess.Popen(
            [*self.enter(), sys.executable, str(Path(__file__)), "forward", "127.0.0.1",
             self.gateway, *map(str, self.ports)], stdout=subprocess.PIPE, text=True)
        assert self._inside.stdout is not None
        if self._inside.stdout.readline().strip() != "ready":
            raise RuntimeError(f"forwarder inside {self.name} did not start")
        return self

    def enter(self) -> list[str]:
        """The command prefix that runs a program on this host (its namespace)."""
        return ["ip", "netns", "exec", self.name]

    def run_prefix(self) -> list[str]:
        """On this host and its cores (and in its CPU-quota group, if any: the program and its
        children, e.g. verification workers)."""
        prefix = [*self.enter(), "taskset", "-c", ",".join(map(str, self.cores))]
        if self.cgroup is not None:  # joined before entering: the namespace remounts /sys
            prefix = ["sh", "-c", f'echo $$ > {self.cgroup / "cgroup.procs"} && exec "$@"',
                      "sh", *prefix]
        return prefix

    def _limit_cpu(self) -> None:
        """A cgroup (v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us``) holding the host's programs."""
        period = 100_000
        quota = int(period * self.cpu_share * len(self.cores))
        v2, v1 = Path("/sys/fs/cgroup/cgroup.controllers"), Path("/sys/fs/cgroup/cpu")
        if v2.exists():
            self.cgroup = Path("/sys/fs/cgroup") / self.name
            self.cgroup.mkdir(exist_ok=True)
            (self.cgroup / "cpu.max").write_text(f"{quota} {period}")
        elif v1.is_dir():
            self.cgroup = v1 / self.name
            self.cgroup.mkdir(exist_ok=True)
            (self.cgroup / "cpu.cfs_period_us").write_text(str(period))
            (self.cgroup / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            raise RuntimeError("no cgroup CPU controller: --host-cpu needs one")

    def down(self) -> None:
        if self._inside is not None:
            self._inside.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._inside.wait(5)
        if self._loop is not None:
            task = self._task

            async def stop() -> None:  # the cancellation closes the listening sockets
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self.cgroup is not None:
            for _ in range(50):  # empty once its programs have exited
                with contextlib.suppress(OSError):
                    self.cgroup.rmdir()
                    break
                time.sleep(0.1)
        subprocess.run(["ip", "link", "del", self.veth[0]], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        time.sleep(0.1)


if __name__ == "__main__" and sys.argv[1:2] == ["forward"]:
    asyncio.run(_forward(sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4:]]))
