"""Imported by the kernels' fork server (:mod:`segkit.runner.fork_server`) at its start.

It imports :data:`segkit.runner.fork_server.PRELOAD` so that every forked kernel starts
with them loaded. A module that fails to import is left for the kernel to import
(and to report) itself.
"""

import importlib
import os

from segkit.runner.fork_server import INLINE_BACKEND, PRELOAD

# as ipykernel does before matplotlib is first imported in a kernel
os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
# debugpy (ipykernel's debugger) warns on import, on stderr of `segkit report`,
# that this interpreter runs without -Xfrozen_modules=off (kernelspecs pass it,
# the fork server cannot): only breakpoints in frozen stdlib modules are affected
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

for _name in PRELOAD:
    try:
        importlib.import_module(_name)
    except Exception:  # the kernel imports (and reports) it itself
        pass
