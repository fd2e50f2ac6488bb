"""``segkit init``: write a first config for a new data file, then check it.

:func:`init_config` reads a sample of the file (the first :data:`SAMPLE_ROWS`
rows, with :func:`segkit.data.io.read_table`: any separator, .gz/.zip, Parquet,
Excel; UTF-8, else the fallback encoding it names), guesses the role of each
column (:mod:`segkit.runner.init_guess`), writes ``configs/<name>.yaml`` with a
comment on every guess, an ``# UNCERTAIN`` comment where it is not sure and the
columns it left unmapped, and then loads the whole data once with that config to
check the mapping. It never overwrites a config and writes nothing when it cannot
place the roles a config needs.

The YAML text is written here, not dumped: ruamel.yaml (the library that keeps
comments) is not a segkit dependency and PyYAML drops comments, so each line is
formatted by :func:`_yaml_scalar` and the whole text is read back with PyYAML to
prove it means what was intended.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from segkit.data.io import load_customers, load_transactions, read_table
from segkit.exceptions import ConfigError, InputFileError, RunError, SegkitError
from segkit.fileinfo import is_glob
from segkit.project import find_project_root
from segkit.runner.init_guess import (
    CustomerGuess,
    Guess,
    guess_customers,
    guess_transactions,
)

__all__ = ["SAMPLE_ROWS", "InitResult", "init_config", "slugify", "config_text"]

#: Rows read to guess the roles (the check then reads the whole file).
SAMPLE_ROWS = 20_000
_DATA_SUFFIXES = {
    ".gz", ".zip", ".bz2", ".xz", ".csv", ".tsv", ".txt", ".dat", ".parquet", ".pq",
    ".xlsx", ".xlsm", ".xls",
}  # fmt: skip
_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_ ./-]*")


@dataclass
class InitResult:
    """What ``segkit init`` did.

    Attributes
    ----------
    path : Path
        The config written.
    guesses : list of Guess
        The transactions roles placed.
    lines : list of str
        What to print: the sample read, the guesses, the config written, the
        check's summary and the next command (not after a failed check).
    error : str or None
        The check's error when loading the data with the config failed (the
        config is kept so it can be fixed by hand).
    fix : str or None
        After a failed check: the key to fix and how to check again.
    """

    path: Path
    guesses: list[Guess]
    lines: list[str] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None

    def failure_lines(self) -> list[str]:
        """The failed check and the key to fix (empty when the check passed)."""
        return [] if self.error is None else [f"check failed: {self.error}", self.fix]


def slugify(text: str) -> str:
    """A config name from free text: lower case, ``[a-z0-9_-]``, e.g. ``my_shop``."""
    slug = re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_-")
    if not slug:
        raise ConfigError(
            f"--name {text!r} has no letters or digits; pass a name like my_shop"
        )
    return slug


def _stem(path: Path) -> str:
    name = path.name
    while Path(name).suffix.lower() in _DATA_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    return name or path.name


def _yaml_scalar(value: Any) -> str:
    """One YAML scalar: plain when that reads back the same, else quoted."""
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text and ": " not in text:
        return text
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text)  # JSON strings are YAML double-quoted scalars


def _comment(text: str) -> str:
    return "  # " + " ".join(str(text).split())


def _read_sample(path: Path, sample_rows: int, given: dict[str, Any] | None = None):
    """The sample and the read options to write: sep and encoding from the notes.

    ``given`` holds read options the user passed (``segkit init --sep``); they are
    used as they are rather than sniffed, and written with that said.
    """
    given = {k: v for k, v in (given or {}).items() if v is not None}
    frame, notes = read_table(path, read=given or None, nrows=sample_rows)
    read: dict[str, Any] = dict(given)
    said: dict[str, str] = {k: f"given with --{k}" for k in given}
    for note in notes:
        sep = re.match(r"separator sniffed as (.+)$", note)
        if sep:
            read["sep"] = ast.literal_eval(sep.group(1))
            said["sep"] = "sniffed from the first lines"
        enc = re.search(r"; read as ([\w-]+)\.", note)
        if enc:
            read["encoding"] = enc.group(1)
            said["encoding"] = "the file is not UTF-8: read as " + enc.group(1)
    suffixes = {s.lower() for s in path.suffixes}
    if not {".parquet", ".pq"} & suffixes:  # again as text: ids keep their zeros
        frame, _ = read_table(
            path, read=read, nrows=sample_rows, text_columns=list(frame.columns)
        )
    if not {".parquet", ".pq", ".xlsx", ".xlsm", ".xls"} & suffixes:
        read.setdefault("encoding", "utf-8")
        said.setdefault("encoding", "the sample decodes as UTF-8")
    return frame, read, said


def _path_text(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _read_lines(read: dict[str, Any], said: dict[str, str]) -> list[str]:
    if not read:
        return []
    lines = ["  read:"]
    for key, value in read.items():
        lines.append(f"    {key}: {_yaml_scalar(value)}" + _comment(said[key]))
    return lines


def _guess_comment(guess: Guess) -> str:
    text = f"guessed from {guess.reason} (confidence {guess.confidence:.2f})"
    if guess.uncertain:
        others = [r for r in guess.alternatives if r not in guess.doubt]
        also = (
            f"; it could also be {', '.join(others)}"
            if others
            else "; if it is not, remove the line and map the role by hand"
        )
        text += f"  # UNCERTAIN: {guess.doubt}{also}"
    return _comment(text)


def _transactions_lines(
    path_text: str, guesses: list[Guess], profiles: dict, read, said
) -> tuple[list[str], dict[str, Any]]:
    stamp = next(g for g in guesses if g.role == "timestamp")
    if stamp.profile.date_format:
        read = {**read, "date_format": stamp.profile.date_format}
        said = {**said, "date_format": f"dates like {stamp.profile.examples[0]}"}
    lines = ["transactions:", f"  path: {_yaml_scalar(path_text)}"]
    lines += _read_lines(read, said)
    lines.append("  columns:")
    for guess in guesses:
        lines.append(
            f"    {guess.role}: {_yaml_scalar(guess.column)}" + _guess_comment(guess)
        )
    if not any(g.role == "order_id" for g in guesses):
        lines.append(
            "    # no order id found: each customer's lines on one timestamp form "
            "one order"
        )
    placed = {g.column for g in guesses}
    left = [c for c in profiles if c not in placed]
    if left:
        lines.append(
            "  # columns left unmapped (map one under columns: if it has a role):"
        )
        lines += [f"  #   {c}: {profiles[c].describe()}" for c in left]
    body = {
        "path": path_text,
        "columns": {g.role: g.column for g in guesses},
    }
    if read:
        body["read"] = dict(read)
    return lines, body


def _customers_lines(path_text: str, guess: CustomerGuess, read, said):
    if guess.date_format:
        read = {**read, "date_format": guess.date_format}
        said = {**said, "date_format": f"format of {guess.signup_date}"}
    lines = ["customers:", f"  path: {_yaml_scalar(path_text)}"]
    lines += _read_lines(read, said)
    lines += ["  columns:", f"    customer_id: {_yaml_scalar(guess.customer_id)}"]
    lines[-1] += _comment(guess.notes[guess.customer_id])
    body: dict[str, Any] = {
        "path": path_text,
        "columns": {"customer_id": guess.customer_id},
    }
    if read:
        body["read"] = dict(read)
    for key in ("birth_year", "signup_date"):
        column = getattr(guess, key)
        if column:
            lines.append(
                f"  {key}: {_yaml_scalar(column)}" + _comment(guess.notes[column])
            )
            body[key] = column
    if guess.attributes:
        lines.append("  attributes:")
        for group, columns in guess.attributes.items():
            lines.append(f"    {group}:")
            lines += [
                f"      - {_yaml_scalar(c)}" + _comment(guess.notes[c]) for c in columns
            ]
        body["attributes"] = {g: list(c) for g, c in guess.attributes.items()}
    if guess.unmapped:
        lines.append("  # columns left unmapped (add them to a group or outcomes):")
        lines += [f"  #   {c}: {why}" for c, why in guess.unmapped.items()]
    return lines, body


def config_text(
    *,
    name: str,
    source: str,
    transactions: tuple[list[str], dict[str, Any]],
    customers: tuple[list[str], dict[str, Any]] | None,
    sample_rows: int,
    config_ref: str,
    today: dt.date,
) -> tuple[str, dict[str, Any]]:
    """The config's YAML text and the mapping it must read back as."""
    lines = [
        f"# written by `segkit init` on {today.isoformat()} from {source},",
        f"# guessed from its first {sample_rows:,} rows. Check each guess (the",
        "# unsure ones say UNCERTAIN), then run:",
        f"#   segkit report --config {config_ref}",
        "# (YAML written as text by segkit: PyYAML, segkit's YAML library, drops",
        "# comments and ruamel.yaml is not installed.)",
        f"name: {_yaml_scalar(name)}",
        *transactions[0],
    ]
    body: dict[str, Any] = {"name": name, "transactions": transactions[1]}
    if customers is not None:
        lines += customers[0]
        body["customers"] = customers[1]
    lines += [
        "# as_of is left out: the analysis date is the day after the newest",
        "# transaction. Set it (as_of: YYYY-MM-DD) to pin the date of every rerun.",
        "seed: 0",
    ]
    body["seed"] = 0
    return "\n".join(lines) + "\n", body


def _fix_hint(message: str) -> str:
    role = re.search(r"role (\w+)\)", message)
    key = re.search(r"((?:transactions|customers)\.[\w.]+)", message)
    if role and "date" in message and "read.date_format" in message:
        return "fix transactions.read.date_format (or transactions.columns.timestamp)"
    if role:
        return f"fix transactions.columns.{role.group(1)}"
    if key:
        return f"fix {key.group(1)}"
    if "read.sep" in message or "separator" in message:
        return "fix transactions.read.sep"
    return "fix the key the message names"


def _check(path: Path, root: Path, has_customers: bool) -> tuple[list[str], str | None]:
    """Load the data once with the written config; summary lines or the error."""
    from segkit.config import load_config

    try:
        config = load_config(path, root=root)
        frame = load_transactions(config).frame
        lines = [
            f"checked: {len(frame):,} rows, {frame['customer_id'].nunique():,} "
            f"customers, {frame['timestamp'].min():%Y-%m-%d} to "
            f"{frame['timestamp'].max():%Y-%m-%d}"
        ]
        if has_customers:
            table = load_customers(config).frame
            known = frame["customer_id"].dropna().unique()
            covered = int(table.index.isin(known).sum())
            lines.append(
                f"customers table: {len(table):,} customers, {covered:,} of them in "
                "the transactions"
            )
            if not covered:
                lines.append(
                    "warning: no customer of the customers table is in the "
                    "transactions; check customers.columns.customer_id"
                )
    except SegkitError as exc:
        return [], " ".join(str(exc).split())
    return lines, None


def init_config(
    data: str | Path,
    *,
    customers: str | Path | None = None,
    name: str | None = None,
    configs_dir: str | Path | None = None,
    root: str | Path | None = None,
    sample_rows: int | None = None,
    check: bool = True,
    sep: str | None = None,
) -> InitResult:
    """Guess a config for ``data`` (and ``customers``), write it and check it.

    Parameters
    ----------
    data : str or Path
        The transactions file (CSV with any separator, .gz/.zip, Parquet, Excel).
    customers : str or Path, optional
        A customers table (one row per customer) to map too.
    name : str, optional
        The config's name and file stem; default: the data file's stem. Slugified.
    configs_dir : str or Path, optional
        Where the config goes; default ``configs/`` under the project root.
    root : str or Path, optional
        The project root; default: found from the current folder. Data under it
        is written as a path relative to it.
    sample_rows : int, optional
        Rows read to guess the roles; default :data:`SAMPLE_ROWS`.
    check : bool
        Load the whole data once with the written config (default True).
    sep : str, optional
        The field separator of ``data`` (``--sep``), where sniffing it from the
        first lines guesses wrong; written to ``transactions.read.sep``. The
        customers table is still sniffed.

    Returns
    -------
    InitResult
        ``error`` is set when the check failed; the config is then kept.

    Raises
    ------
    ConfigError
        When the config exists already, or the roles cannot be guessed (nothing is
        written then).
    """
    root = Path(root) if root is not None else find_project_root()
    sample_rows = SAMPLE_ROWS if sample_rows is None else sample_rows
    folder = Path(configs_dir) if configs_dir is not None else root / "configs"
    data = Path(data).expanduser()
    stem = _stem(data.parent if is_glob(data.name) else data)
    slug = slugify(name if name is not None else stem)
    target = folder / f"{slug}.yaml"
    shown = _path_text(target, root)
    if target.exists():
        raise ConfigError(
            f"config {shown} exists already; segkit init never overwrites a config: "
            "pass --name OTHER_NAME for a new one, or delete the file first"
        )
    for given in (data, customers):
        if given is None or is_glob(given) or Path(given).expanduser().is_dir():
            continue  # a folder or glob of files: read_table names what is wrong
        if not Path(given).expanduser().is_file():
            raise InputFileError(
                f"segkit init: data file {given} not found; pass an existing CSV, "
                "Parquet or Excel file, a folder of them or a glob (days/*.csv.gz)"
            )
    frame, read, said = _read_sample(data, sample_rows, {"sep": sep})
    try:
        guesses, profiles = guess_transactions(frame)
    except ConfigError as exc:
        if sep is not None or frame.shape[1] > 2 or "sep" not in read:
            raise
        # too few columns for a transactions table: most likely the separator
        raise ConfigError(
            f"{exc}. The sample read as {frame.shape[1]} column(s) with the separator "
            f"{read['sep']!r} sniffed from its first lines; if the file has another "
            "separator, pass it: segkit init --sep '<separator>'"
        ) from None
    tx = _transactions_lines(_path_text(data, root), guesses, profiles, read, said)
    cust = None
    if customers is not None:
        customers = Path(customers).expanduser()
        table, c_read, c_said = _read_sample(customers, sample_rows)
        cust = _customers_lines(
            _path_text(customers, root), guess_customers(table), c_read, c_said
        )
    text, body = config_text(
        name=slug,
        source=_path_text(data, root),
        transactions=tx,
        customers=cust,
        sample_rows=min(sample_rows, len(frame)),
        config_ref=shown,
        today=dt.date.today(),
    )
    if yaml.safe_load(text) != body:  # a formatting slip must never reach a user
        raise RunError(f"segkit init wrote YAML that reads back differently:\n{text}")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    how = ", ".join(f"{k} {v!r}" for k, v in read.items()) or "native format"
    lines = [f"read a sample of {len(frame):,} rows of {data.name} ({how})"]
    for g in guesses:
        flag = "  UNCERTAIN" if g.uncertain else ""
        lines.append(f"  {g.column} -> {g.role} ({g.confidence:.2f}){flag}")
    lines.append(f"wrote {shown}")
    result = InitResult(path=target, guesses=guesses, lines=lines)
    if check:
        summary, error = _check(target, root, customers is not None)
        if error is not None:
            result.error = error
            result.fix = (
                f"the config is kept: {_fix_hint(error)} in {shown} and check it "
                f"with `segkit report --config {shown} --notebooks 01`"
            )
            return result
        lines += summary
    lines.append(f"next: segkit report --config {shown}")
    return result
