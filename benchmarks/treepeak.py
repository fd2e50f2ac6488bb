"""Peak memory of a whole process tree, for the benchmarks that start subprocesses.

``RUSAGE_CHILDREN`` gives only the largest single child, which under-counts a run
whose work is spread over joblib workers or notebook kernels running at once;
``watch`` samples the resident memory of the process and all its descendants every
0.1 s with psutil and keeps the largest sum.

The RSS sum counts a page shared by several processes once per process: the
report's notebook kernels are forks of one fork server (segkit.runner.kernels) and
share its imported libraries copy-on-write, so their RSS sum over-counts what the
machine holds. ``watch_tree`` also keeps the largest sum of the proportional set
size (PSS: each shared page divided among the processes sharing it, from
``/proc/<pid>/smaps_rollup``), which adds up to the memory actually used.
"""

from __future__ import annotations

import subprocess
import time

__all__ = ["watch", "watch_tree"]


def watch(proc: subprocess.Popen, timeout: float) -> tuple[float, bool]:
    """Wait for ``proc``; return (peak RSS of its tree in MB, timed out).

    On timeout the whole tree is killed, children first.
    """
    found = watch_tree(proc, timeout, pss=False)
    return found["rss_mb"], found["timed_out"]


def watch_tree(proc: subprocess.Popen, timeout: float, *, pss: bool = True) -> dict:
    """Wait for ``proc``; ``rss_mb`` and ``pss_mb`` (peak sums over its tree, MB;
    ``pss_mb`` None when not sampled) and ``timed_out``."""
    import psutil

    root, peak, peak_pss, timed_out = psutil.Process(proc.pid), 0, 0, False
    start = time.perf_counter()
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        rss = shared = 0
        for p in tree:
            try:
                if pss:
                    info = p.memory_full_info()
                    shared += info.pss
                else:
                    info = p.memory_info()
                rss += info.rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        peak, peak_pss = max(peak, rss), max(peak_pss, shared)
        if time.perf_counter() - start > timeout:
            for p in reversed(tree):
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            timed_out = True
            break
        time.sleep(0.1)
    proc.wait()
    return {
        "rss_mb": peak / 2**20,
        "pss_mb": peak_pss / 2**20 if pss else None,
        "timed_out": timed_out,
    }
