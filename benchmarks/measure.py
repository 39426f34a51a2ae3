"""Running one workload process and measuring it from outside: whole-process wall time,
peak memory of its process tree, and the machine's load and fsync latency."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_INTERVAL_S = 0.02


@dataclass
class ProcessRun:
    wall_s: float
    peak_rss_mib: float | None
    """None when the process ended before the first sample."""
    returncode: int | None
    timed_out: bool


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _peak_rss_kib(pid: int) -> int:
    """The peak resident set (VmHWM) of ``pid`` since it started its program."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_peak_rss_bytes(pid: int) -> int:
    """The peak resident sets of ``pid`` and all its live descendants (a server or workers
    it started), added up. (The rusage of a child is no use here: it counts the memory of
    the harness that forked it.)"""
    tree = _children()
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _peak_rss_kib(current) * 1024
        stack.extend(tree.get(current, ()))
    return total


def run_process(command: list[str], *, env: dict[str, str], cwd: Path, log: Path,
                timeout_s: float) -> ProcessRun:
    """Run ``command`` in its own session; kill its whole group after ``timeout_s``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        peak, timed_out, status = 0, False, None
        while True:
            pid, wait_status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                wall = time.perf_counter() - start
                status = process.returncode = os.waitstatus_to_exitcode(wait_status)
                break
            peak = max(peak, tree_peak_rss_bytes(process.pid))
            if time.perf_counter() - start > timeout_s:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                os.waitpid(process.pid, 0)
                process.returncode = -9
                wall = time.perf_counter() - start
                break
            time.sleep(SAMPLE_INTERVAL_S)
        with contextlib.suppress(ProcessLookupError):  # what it left behind goes too
            os.killpg(process.pid, signal.SIGKILL)
    return ProcessRun(wall, peak / 2**20 if peak else None, None if timed_out else status,
                      timed_out)


def fsync_latency_ms(folder: Path, samples: int = 50) -> dict[str, float]:
    """Write 4 KiB and fsync it, ``samples`` times, in ``folder`` (where the stores live)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fsync-probe.tmp"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for i in range(samples):
            os.pwrite(fd, bytes([i % 256]) * 4096, 0)
            start = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    times.sort()
    return {"samples": samples, "median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(samples * 0.9) - 1], 3), "max_ms": round(times[-1], 3)}


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        memory_kib = 0
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
