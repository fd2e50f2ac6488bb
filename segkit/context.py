"""The run folder: where one report run keeps its notebooks, HTML and artifacts.

A :class:`RunContext` is what every notebook opens first. It holds the validated
config and knows where each artifact lives, so notebook 03 can read what notebook 02
wrote. Opened without a ``run_dir`` (JupyterLab, defaults) it uses a scratch folder
``scratch/<config name>/`` in the project (found from the current folder, see
:mod:`segkit.project`), which is never a report folder.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segkit.config import load_config
from segkit.exceptions import RunError
from segkit.project import find_project_root

if TYPE_CHECKING:
    from segkit.config import Config

__all__ = ["RunContext", "open_run", "new_run_dir"]

logger = logging.getLogger(__name__)


def new_run_dir(output_dir: str | Path, day: dt.date | None = None) -> Path:
    """Create and return a new run folder ``<output_dir>/<YYYY-MM-DD>[-N]``.

    The folder is created with ``mkdir(exist_ok=False)``, which is atomic, so two runs
    that start at the same moment get different folders and an earlier run is never
    reused or overwritten.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = (day or dt.date.today()).isoformat()
    for n in range(1, 10_000):
        candidate = output_dir / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunError(f"more than 9,999 runs dated {stem} in {output_dir}; archive some")


@dataclass
class RunContext:
    """Config plus the paths of one run folder.

    Attributes
    ----------
    config : Config
        The validated config (see :func:`segkit.config.load_config`); typed
        fields (``ctx.config.clustering.k_max``), item access works too.
    run_dir : Path
        The run folder; ``artifacts/`` inside it holds every file steps exchange.
    """

    config: Config
    run_dir: Path
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def artifacts(self) -> Path:
        path = self.run_dir / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def has_transactions(self) -> bool:
        return self.config.transactions is not None

    @property
    def has_customers(self) -> bool:
        return self.config.customers is not None

    def artifact(self, name: str) -> Path:
        """Path of an artifact (it may not exist yet)."""
        return self.artifacts / name

    def has(self, name: str) -> bool:
        return self.artifact(name).exists()

    def save_frame(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a frame as Parquet (``.parquet``) or CSV (``.csv``)."""
        path = self.artifact(name)
        if name.endswith(".parquet"):
            frame.to_parquet(path)
        elif name.endswith(".csv"):
            frame.to_csv(path, index=frame.index.name is not None)
        else:
            raise RunError(f"artifact {name!r}: use a .parquet or .csv name")
        self._cache.pop(name, None)
        return path

    def load_frame(self, name: str) -> pd.DataFrame:
        """Read a frame artifact written by :meth:`save_frame` (cached per context)."""
        if name not in self._cache:
            path = self.artifact(name)
            if not path.exists():
                raise RunError(
                    f"artifact {name!r} not found in {self.artifacts}; run the notebook "
                    "that produces it first (or call ctx.ensure(step))"
                )
            if name.endswith(".parquet"):
                self._cache[name] = pd.read_parquet(path)
            else:
                self._cache[name] = pd.read_csv(path)
        return self._cache[name].copy()

    def forget(self, names: Iterable[str]) -> None:
        """Drop cached frames of ``names`` (their files were replaced on disk)."""
        for name in names:
            self._cache.pop(name, None)

    def save_json(self, name: str, data: Any) -> Path:
        path = self.artifact(name)
        path.write_text(
            json.dumps(data, indent=2, default=_json_default), encoding="utf-8"
        )
        return path

    def load_json(self, name: str) -> Any:
        path = self.artifact(name)
        if not path.exists():
            raise RunError(
                f"artifact {name!r} not found in {self.artifacts}; run the notebook "
                "that produces it first (or call ctx.ensure(step))"
            )
        return json.loads(path.read_text(encoding="utf-8"))

    def ensure(self, step: str) -> None:
        """Make ``step``'s artifacts (and those of the steps before it) exist here:
        done already, reused from the step cache (see :mod:`segkit.reuse`), or run."""
        from segkit.pipeline import ensure

        ensure(self, step)

    def run_or_reuse(self, step: str) -> dict:
        """A notebook's own step: copied from the step cache when its inputs are
        unchanged (report runs), else run now; returns its record (marker)."""
        from segkit.pipeline import run_or_reuse

        return run_or_reuse(self, step)

    def run_step(self, step: str) -> dict:
        """Run ``step`` now, after making sure the steps before it have run.

        Returns the step's record: ``{"step", "seconds", "summary"}``.
        """
        from segkit.pipeline import run_step

        return run_step(self, step)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def open_run(
    config_path: str | Path,
    run_dir: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
) -> RunContext:
    """Open (and create) the run folder a notebook works in.

    Parameters
    ----------
    config_path : str or Path
        The YAML config, anywhere on disk. A relative path is tried from the current
        folder and then from the project root, so notebooks can say
        ``../configs/online_retail.yaml`` or ``configs/online_retail.yaml``.
    run_dir : str or Path, optional
        The run folder; None (the notebook default) means a scratch folder
        ``scratch/<config name>/`` under the project root.
    overrides : mapping or list of "key=value", optional
        Config overrides, as given to ``segkit report --set``.
    """
    path = Path(config_path).expanduser()
    if not path.is_absolute() and not path.exists():
        alternative = find_project_root() / path
        if alternative.exists():
            path = alternative
    config = load_config(path, overrides)
    if run_dir in (None, ""):
        folder = Path(config.root) / "scratch" / config.name
    else:
        folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    logger.info("run folder %s", folder)
    from segkit.display import set_currency
    from segkit.glossary import set_labels

    set_currency(config["report"]["currency"])  # money columns of the pages' tables
    set_labels(config["report"]["labels"])  # the data's own columns, by name
    _figure_cache(folder)
    config = _declared_features(config, folder)
    return RunContext(config=config, run_dir=folder.resolve())


def _figure_cache(folder: Path) -> None:
    """Figures drawn once per input in a report run folder (:mod:`segkit.figure_cache`),
    and the validation's costly parts computed once per input (:mod:`segkit.memo`).

    On in a folder with a ``manifest.json`` (``segkit report`` writes it before
    the first notebook); reading is off under ``--fresh``, which redraws and
    refreshes the cache; off in scratch folders, so a notebook edited in
    JupyterLab always draws.
    """
    from segkit import figure_cache, memo, reuse

    if (folder / "manifest.json").is_file():
        read = not reuse.fresh_requested()
        figure_cache.configure(reuse.cache_dir(folder) / "figures", read=read)
        memo.configure(reuse.cache_dir(folder) / "memo", read=read)
    else:
        figure_cache.configure(None)
        memo.configure(None)


def _declared_features(config: Config, folder: Path) -> Config:
    """Apply what the features step pinned: spend-mix levels and display names.

    Every notebook runs in its own kernel; ``artifacts/declared_features.json``
    makes them all build the same mix columns and show the declared names.
    """
    path = folder / "artifacts" / "declared_features.json"
    if not path.exists():
        return config
    from segkit.glossary import register_labels

    declared = json.loads(path.read_text(encoding="utf-8"))
    register_labels(declared.get("labels"))
    pinned = declared.get("mix_levels") or {}
    if not pinned:
        return config
    return config.model_copy(update={"features": config.features.with_levels(pinned)})
