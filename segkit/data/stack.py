"""One table from several files: a folder or a glob of daily exports, stacked.

``transactions.path`` may name a folder or a glob (``data/raw/days/*.csv.gz``);
:func:`segkit.fileinfo.source_files` lists its files sorted by name and
:func:`stack_tables` reads each with the reader given (the data step's
:func:`segkit.data.io.read_table`) and stacks them in that order. Every file must
have the same columns in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.exceptions import InputFileError, SchemaError

__all__ = ["stack_tables"]


def stack_tables(
    paths: Sequence[str | Path],
    *,
    reader: Callable[..., tuple[pd.DataFrame, list[str]]],
    nrows: int | None = None,
    **options: Any,
) -> tuple[pd.DataFrame, list[str]]:
    """Read several files of one table and stack them in the order given.

    Parameters
    ----------
    paths : sequence of str or Path
        The files, in reading order (:func:`segkit.fileinfo.source_files`).
    reader : callable
        ``reader(path, nrows=..., **options) -> (frame, notes)`` for one file.
    nrows : int, optional
        Only the first ``nrows`` rows over the files in order (a sample).
    **options
        Passed to ``reader`` (``read``, ``text_columns``).

    Returns
    -------
    (DataFrame, list of str)
        The rows of every file (a fresh 0..n-1 index) and the reading notes; with
        several files the first note says how many were read.

    Raises
    ------
    SchemaError
        A file's columns differ from the first file's (the message names it and
        both column lists).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputFileError("no data file to read; the source lists no files")
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    for path in paths:
        left = None if nrows is None else nrows - sum(len(f) for f in frames)
        if left is not None and left <= 0:
            break
        frame, file_notes = reader(path, nrows=left, **options)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise SchemaError(
                f"file {path} has the columns {list(frame.columns)}, but "
                f"{paths[0].name} (the first file) has {list(frames[0].columns)}; "
                "every file of one table needs the same columns in the same order: "
                "fix or remove that file"
            )
        frames.append(frame)
        notes += [n for n in file_notes if n not in notes]
    if len(frames) == 1:
        return frames[0], notes
    read = paths[: len(frames)]
    head = (
        f"read {len(read)} files in file-name order ({read[0].name} ... "
        f"{read[-1].name}) and stacked them"
    )
    return pd.concat(frames, ignore_index=True), [head, *notes]
