"""Ray clusters on this machine for the executor tests: a head and, for the multi-node test, a
second node, each started with ``ray start --block`` on 127.0.0.1 (real raylets, as on a
cluster), and stopped by killing their process trees, so a test never stops a Ray cluster it did
not start. Workers find the fake plugins (``tests/fakes.py``) through ``PYTHONPATH``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
ENVIRONMENT = {
    "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    "RAY_AUTH_MODE": "disabled",  # loopback only; a real cluster keeps Ray's token (README)
    "RAY_USAGE_STATS_ENABLED": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (Ray's daemons and workers start in sessions of their own,
    so a process group does not hold them)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


class Cluster:
    """A head node (``cpus`` CPUs, ``gpus`` declared GPUs) on a free port; :meth:`add_node` adds one."""

    def __init__(self, cpus: int, gpus: int = 0):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[subprocess.Popen] = []
        self._start(["--head", f"--port={self.port}", "--include-dashboard=false"], cpus, gpus)

    def add_node(self, cpus: int) -> None:
        self._start([f"--address={self.address}"], cpus, 0)

    def _start(self, role: list[str], cpus: int, gpus: int) -> None:
        command = [RAY, "start", *role, "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", f"--num-gpus={gpus}",
                   "--block", "--disable-usage-stats"]
        self.nodes.append(subprocess.Popen(command, env={**os.environ, **ENVIRONMENT}, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        self.wait_for(len(self.nodes))

    def wait_for(self, nodes: int, timeout: float = 120) -> None:
        """Until ``nodes`` nodes are alive (asked by ``ray status``-like polling from a subprocess,
        so the test process does not join the cluster before its tests do)."""
        probe = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True,
                                    env={**os.environ, **ENVIRONMENT}, timeout=timeout)
            if result.returncode == 0 and result.stdout.strip().splitlines()[-1:] == [str(nodes)]:
                return
            time.sleep(0.5)
        raise RuntimeError(f"Ray cluster at {self.address}: {nodes} nodes not alive after {timeout:g} s")

    def kill_node(self, index: int) -> None:
        for pid in process_tree(self.nodes[index].pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        for index in reversed(range(len(self.nodes))):
            self.kill_node(index)
