"""The papermill engine of report runs: nbclient, with the executed copy saved less often.

Papermill's own engine writes the whole executed notebook (every output, PNGs
included) after each cell starts and after each cell ends. On a report run that
is about 40 saves per notebook, each a deep copy, a schema validation and a JSON
dump of a growing document: measured with py-spy on a warm Online Retail run, 5.3
of the runner's 18 CPU-seconds, in the thread pool that also drives the kernels.

:class:`SparseSaves` keeps papermill's saves but skips those that come less than
:data:`SAVE_EVERY` seconds after the last one. The executed copy is always written
when the notebook ends, ok or failed (papermill's ``notebook_complete`` runs in a
``finally``), so a failed or timed-out notebook still keeps every output up to the
failure. Only a runner killed outright (SIGKILL, power loss) can lose output: at
most the last :data:`SAVE_EVERY` seconds of it, where papermill would lose none.

The engine is registered with papermill as ``segkit`` (:data:`ENGINE`); the runner
passes ``engine_name=ENGINE``.
"""

from __future__ import annotations

import time
from typing import Any

from papermill.engines import (
    NBClientEngine,
    NotebookExecutionManager,
    papermill_engines,
)

__all__ = ["ENGINE", "SAVE_EVERY", "SparseSaves", "SparseSavesEngine"]

#: Name the engine is registered under with papermill.
ENGINE = "segkit"

#: Seconds between two saves of the executed copy while the notebook runs.
SAVE_EVERY = 5.0


class SparseSaves(NotebookExecutionManager):
    """Papermill's execution state, saving at most every :data:`SAVE_EVERY` s.

    ``notebook_complete`` (papermill calls it in a ``finally``, after success and
    failure alike) always saves.
    """

    every = SAVE_EVERY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._saved_at: float | None = None
        self._final = False
        self.saves = 0
        super().__init__(*args, **kwargs)

    def save(self, **kwargs: Any) -> None:
        clock = time.monotonic()
        due = self._saved_at is None or clock - self._saved_at >= self.every
        if not (self._final or due):
            return
        super().save(**kwargs)
        self._saved_at = clock
        self.saves += 1

    def notebook_complete(self, **kwargs: Any) -> None:
        self._final = True
        super().notebook_complete(**kwargs)


class SparseSavesEngine(NBClientEngine):
    """Papermill's nbclient engine on :class:`SparseSaves`."""

    @classmethod
    def execute_notebook(
        cls,
        nb,
        kernel_name,
        output_path=None,
        progress_bar=True,
        log_output=False,
        autosave_cell_every=30,
        **kwargs,
    ):
        # papermill's Engine.execute_notebook names its manager class inline, so
        # the few lines that build and close it are repeated here with ours
        manager = SparseSaves(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(
                manager, kernel_name, log_output=log_output, **kwargs
            )
        finally:
            manager.cleanup_pbar()
            manager.notebook_complete()
        return manager.nb


papermill_engines.register(ENGINE, SparseSavesEngine)
