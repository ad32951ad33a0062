"""A cluster that looks like the real thing: an S3 server, a `dask scheduler` and two `dask worker`
processes, each worker in its own empty working directory, home and `--local-directory`.

Where the kernel lets an unprivileged user make namespaces (`unshare -Urnm`), each worker also
runs in its own network and mount namespace: it reaches only the scheduler, the S3 endpoint and
its peer, through relays (tests/cluster/netns.py: loopback is per namespace, and a veth pair needs
privileges, so ports are relayed over Unix sockets), and the driver's folder is an empty tmpfs for
it, so a task that reads a driver-side path fails.  Elsewhere (e.g. a runner that forbids user
namespaces) the workers share the driver's network and disk, and `Cluster.isolated` is False.

Everything runs in its own process group and is SIGKILLed at the end of the module.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NETNS = Path(__file__).with_name("netns.py")
BUCKET = "yuliao-cluster"
WORKERS = 2
TEST_SECONDS = 150  # any one test; a hung cluster fails the test instead of hanging CI
UNSHARE = ["unshare", "--user", "--map-root-user", "--net", "--mount"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: starts an S3 server and a multi-process Dask cluster")


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    def expire(*_: object) -> None:
        raise TimeoutError(f"cluster test ran over {TEST_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} is not listening on {port} after {timeout} s")


def namespaces_allowed() -> bool:
    if os.environ.get("YULIAO_TEST_NAMESPACES", "1") == "0" or not shutil.which("unshare"):
        return False
    return subprocess.run([*UNSHARE, "true"], capture_output=True).returncode == 0


class Cluster:
    """The processes, their ports and folders; `root/driver` is the driver's (hidden from workers)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.driver = root / "driver"
        self.logs = root / "logs"
        self.socks = root / "socks"
        for d in (self.driver, self.logs, self.socks):
            d.mkdir()
        self.isolated = namespaces_allowed()
        self.s3_port, self.scheduler_port = free_port(), free_port()
        self.worker_ports = [free_port() for _ in range(WORKERS)]
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self.address = f"tcp://127.0.0.1:{self.scheduler_port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self._starts = 0
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(REPO),  # every process runs this checkout's code (and tests.cluster.faults)
            "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "500ms",  # a 2-core CI machine: quieter loops
            "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
            "DASK_DISTRIBUTED__WORKER__PROFILE__INTERVAL": "100ms",
        }
        self.env.pop("AWS_PROFILE", None)

    def _start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        self._starts += 1
        log = open(self.logs / f"{self._starts:02d}-{name}.log", "wb")  # noqa: SIM115 (the child owns it)
        with log:
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> int | None:
        """SIGKILL the process group of `name` (a host going down); its exit code."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait(timeout=30)
        deadline = time.monotonic() + 10  # a namespace's worker is the guest's child: reaped by init
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return code

    def start_s3(self) -> None:
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)]
        _wait_for_port(self.s3_port, self._start("s3", cmd, self.env, self.root), "the S3 server")
        self.fs().mkdir(BUCKET)
        if self.isolated:
            cmd = [sys.executable, str(NETNS), "host", str(self.socks)]
            cmd += ["--reach", str(self.scheduler_port), str(self.s3_port)]
            cmd += ["--workers", *map(str, self.worker_ports)]
            relay = self._start("relay", cmd, self.env, self.root)
            _wait_for_port(self.worker_ports[-1], relay, "the relay")

    def start_scheduler(self) -> None:
        cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.scheduler_port), "--no-dashboard"]
        home = self.root / "scheduler"
        home.mkdir(exist_ok=True)
        proc = self._start("scheduler", cmd, {**self.env, "HOME": str(home)}, home)
        _wait_for_port(self.scheduler_port, proc, "the scheduler")

    def start_worker(self, i: int) -> None:
        """Worker `i` in a fresh, empty folder (its cwd, home and Dask local directory)."""
        home = self.root / f"worker{i}-{self._starts}"
        home.mkdir()
        port = self.worker_ports[i]
        cmd = [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--name", f"w{i}"]
        cmd += ["--nthreads", "1", "--no-nanny", "--memory-limit", "2GiB", "--no-dashboard"]
        cmd += ["--local-directory", str(home / "dask"), "--listen-address", f"tcp://127.0.0.1:{port}"]
        cmd += ["--preload", "tests.cluster.faults", "--death-timeout", "60"]
        if self.isolated:
            peers = [str(p) for p in self.worker_ports if p != port]
            reach = [str(self.scheduler_port), str(self.s3_port), *peers]
            guest = [sys.executable, str(NETNS), "guest", str(self.socks), str(port), "--reach", *reach]
            cmd = [*UNSHARE, *guest, "--hide", str(self.driver), "--", *cmd]
        env = {**self.env, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
        self._start(f"worker{i}", cmd, env, home)

    def client(self):  # -> distributed.Client
        from distributed import Client

        return Client(self.address, timeout="20s")

    def wait_for_workers(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while len(c.scheduler_info(n_workers=-1)["workers"]) < WORKERS:
                dead = [n for n, p in self.procs.items() if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(f"workers did not join (exited: {dead})\n{self.log_tail()}")
                time.sleep(0.1)

    def restart_worker(self, i: int) -> None:
        self.kill(f"worker{i}")
        self.start_worker(i)
        self.wait_for_workers()

    def restart(self) -> None:
        """A fresh scheduler and fresh workers (the S3 server and its data stay)."""
        for i in range(WORKERS):
            self.kill(f"worker{i}")
        self.kill("scheduler")
        self.start_scheduler()
        for i in range(WORKERS):
            self.start_worker(i)
        self.wait_for_workers()

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)

    def worker_address(self, i: int) -> str:
        return f"tcp://127.0.0.1:{self.worker_ports[i]}"

    def fs(self):  # -> s3fs.S3FileSystem, for the test's own reads
        import s3fs

        return s3fs.S3FileSystem(
            endpoint_url=self.endpoint, key="testing", secret="testing", use_listings_cache=False
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`yuliao ARGS...` as a user would type it, from the driver's folder."""
        cmd = [sys.executable, "-m", "pipeline.cli.main", *args]
        return subprocess.run(
            cmd, cwd=self.driver, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def log_tail(self, chars: int = 4000) -> str:
        text = "".join(f"== {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.logs.iterdir()))
        return text[-chars:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start_s3()
        c.start_scheduler()
        for i in range(WORKERS):
            c.start_worker(i)
        c.wait_for_workers()
        yield c
    finally:
        groups = [p.pid for p in c.procs.values()]
        c.stop()
        left = [g for g in groups if _group_alive(g)]
        assert not left, f"process groups still alive after the cluster stopped: {left}"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
