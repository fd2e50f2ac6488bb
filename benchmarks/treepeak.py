"""Peak memory of a whole process tree, for the benchmarks that start subprocesses.

``RUSAGE_CHILDREN`` gives only the largest single child, which under-counts a run
whose work is spread over joblib workers or notebook kernels running at once;
``watch`` samples the resident memory of the process and all its descendants every
0.1 s with psutil and keeps the largest sum.
"""

from __future__ import annotations

import subprocess
import time

__all__ = ["watch"]


def watch(proc: subprocess.Popen, timeout: float) -> tuple[float, bool]:
    """Wait for ``proc``; return (peak RSS of its tree in MB, timed out).

    On timeout the whole tree is killed, children first.
    """
    import psutil

    root, peak, timed_out = psutil.Process(proc.pid), 0, False
    start = time.perf_counter()
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        rss = 0
        for p in tree:
            try:
                rss += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak = max(peak, rss)
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
    return peak / 2**20, timed_out
