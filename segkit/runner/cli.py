"""Command line: ``segkit init``, ``segkit report``, ``segkit score``,
``segkit config`` and ``segkit warmup`` (also ``python -m segkit``).

Every :class:`~segkit.exceptions.SegkitError` ends the command with
``segkit: error: <message>`` on stderr and exit status 2, never a traceback: one
line, or one line per problem when a config has several. A report whose notebooks
ran but one failed exits with status 1 after printing each failed notebook's error
(class and message), the index page and, last, the run folder.

This module imports only the standard library at load time, so ``segkit --help``
is fast; each command imports what it needs (pandas, papermill, ...) when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from segkit.exceptions import ConfigError, SegkitError

__all__ = ["build_parser", "main"]

EXIT_FAILED = 1
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The ``segkit`` argument parser: ``init``, ``report``, ``score``, ``config``,
    ``warmup``."""
    parser = argparse.ArgumentParser(
        prog="segkit",
        description="Customer-segmentation workbench: dated HTML reports and scoring.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser(
        "init",
        help="write a first config for a data file: guessed column roles, checked",
        description=(
            "Read a sample of DATA, guess the role of each column from its name and "
            "values, write configs/<name>.yaml with a comment on each guess "
            "(UNCERTAIN where unsure), load the data once with it to check, and "
            "print the next command. Never overwrites a config."
        ),
    )
    init.add_argument("data", metavar="DATA", help="transactions file")
    init.add_argument(
        "--customers", metavar="FILE", help="customers table to map too (optional)"
    )
    init.add_argument(
        "--name", metavar="NAME", help="config name (default: the file's stem)"
    )
    init.add_argument(
        "--configs",
        metavar="DIR",
        help="folder the config goes to (default: configs/ of the project)",
    )
    init.add_argument(
        "--sep",
        metavar="SEP",
        help="field separator of DATA, where the one sniffed from its first lines "
        "is wrong (e.g. --sep ';'; 'whitespace' for runs of spaces)",
    )

    report = sub.add_parser(
        "report",
        help="run the numbered notebooks into reports/<date>[-N]/",
        description=(
            "Run every numbered notebook with papermill into a new run folder and "
            "write one HTML page per notebook, index.html and manifest.json. The "
            "last line printed is the run folder."
        ),
    )
    report.add_argument("--config", required=True, metavar="FILE", help="YAML config")
    report.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set clustering.k_max=8 (repeatable)",
    )
    report.add_argument(
        "--compare-to",
        metavar="RUN_DIR",
        help="earlier run folder to compare segments with (sets profiles.compare_to)",
    )
    report.add_argument(
        "--output-dir", metavar="DIR", help="where run folders go (default: reports/)"
    )
    report.add_argument(
        "--notebooks", metavar="NN,NN", help="run only these notebooks, e.g. 01,02"
    )
    report.add_argument(
        "--notebooks-dir",
        metavar="DIR",
        help="folder of the notebooks (default: notebooks/)",
    )
    report.add_argument(
        "--fresh",
        action="store_true",
        help="compute every step; reuse nothing from earlier runs (by default a "
        "step whose code, data and config keys are unchanged is reused)",
    )
    report.add_argument(
        "-v", "--verbose", action="store_true", help="log progress details"
    )

    score = sub.add_parser(
        "score",
        help="assign segments to new customers with a saved model",
        description="Score a file of customers or transactions with a saved model.",
    )
    score.add_argument("--model", required=True, metavar="M", help="saved model file")
    score.add_argument("--input", required=True, metavar="F", help="data to score")
    score.add_argument("--out", required=True, metavar="O", help="output file")
    score.add_argument(
        "--as-of",
        dest="as_of",
        metavar="YYYY-MM-DD",
        help="analysis date of the features (default: the day after the newest "
        "transaction of the input)",
    )
    score.add_argument(
        "--config", metavar="C", help="config describing the input columns"
    )

    config = sub.add_parser(
        "config",
        help="show the effective config, or the JSON Schema of config files",
        description="Inspect configs: 'show' prints a config with every default "
        "filled in (YAML); 'schema' prints the JSON Schema of config files, for "
        "completion and checks in an editor.",
    )
    config_sub = config.add_subparsers(
        dest="config_command", required=True, metavar="ACTION"
    )
    show = config_sub.add_parser(
        "show", help="print the effective config (YAML) with every default"
    )
    show.add_argument("--config", required=True, metavar="FILE", help="YAML config")
    show.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set clustering.k_max=8 (repeatable)",
    )
    config_sub.add_parser("schema", help="print the JSON Schema of config files")

    sub.add_parser(
        "warmup",
        help="compile, once per environment, what a first report would compile",
        description="Run the analysis steps once on synthetic data in a temporary "
        "folder, so that numba (UMAP), pytensor (lifetime value) and matplotlib "
        "fill their on-disk caches before the first report; `make venv` runs it "
        "after the install. Reports are unchanged by it.",
    )
    return parser


def _report(args: argparse.Namespace) -> int:
    # First: the kernels' fork server imports the libraries while this process
    # imports its own (segkit.runner.fork_server); run_report would start it later.
    from segkit.runner.fork_server import start_server

    start_server()
    from segkit.runner.notebooks import configure_logging, run_report

    configure_logging(verbose=args.verbose)
    overrides = list(args.overrides)
    if args.compare_to:
        previous = Path(args.compare_to).expanduser()
        if not previous.is_dir():
            raise ConfigError(
                f"--compare-to {args.compare_to!r}: no such run folder; pass an earlier "
                "run, e.g. --compare-to reports/2026-11-23"
            )
        overrides.append(f"profiles.compare_to={previous.resolve()}")
    result = run_report(
        args.config,
        overrides,
        notebooks_dir=args.notebooks_dir,
        output_dir=args.output_dir,
        notebooks=args.notebooks,
        progress=partial(print, flush=True),
        fresh=args.fresh,
    )
    for line in result.failure_lines():
        print(f"segkit: {line}", file=sys.stderr, flush=True)
    print(result.run_dir, flush=True)
    return result.exit_code


def _config(args: argparse.Namespace) -> int:
    import json

    if args.config_command == "schema":
        from segkit.config import config_schema

        print(json.dumps(config_schema(), indent=2), flush=True)
        return 0
    import yaml

    from segkit.config import load_config, missing_data_files

    config = load_config(args.config, args.overrides)
    body = config.to_dict()  # dates stay dates: YAML writes them unquoted
    for key in ("root", "config_path", "overrides"):
        body.pop(key, None)
    header = [
        f"# effective config of {config.config_path}",
        f"# project root: {config.root}",
    ]
    if config.overrides:
        header.append(f"# overrides: {json.dumps(config.overrides, default=str)}")
    header += [f"# warning: {line}" for line in missing_data_files(config)]
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    print("\n".join(header) + "\n" + text, end="", flush=True)
    return 0


def _init(args: argparse.Namespace) -> int:
    from segkit.runner.init_config import init_config

    result = init_config(
        args.data,
        customers=args.customers,
        name=args.name,
        configs_dir=args.configs,
        sep=args.sep,
    )
    for line in result.lines:
        print(line, flush=True)
    for line in result.failure_lines():
        print(f"segkit: {line}", file=sys.stderr, flush=True)
    return EXIT_FAILED if result.error else 0


def _score(args: argparse.Namespace) -> int:
    try:
        from segkit.scoring import score_file
    except ImportError as exc:
        raise SegkitError(
            f"segkit score is not available in this installation ({exc}); "
            "reinstall segkit with `make venv`"
        ) from None
    scored = score_file(
        args.model, args.input, args.out, config_path=args.config, as_of=args.as_of
    )
    if hasattr(scored, "__len__"):
        print(f"scored {len(scored):,} customers", flush=True)
    print(Path(args.out), flush=True)
    return 0


def _warmup(args: argparse.Namespace) -> int:
    from segkit.runner.notebooks import configure_logging
    from segkit.warmup import warm_up

    configure_logging()
    done = warm_up()
    steps = ", ".join(f"{step} {sec:.1f} s" for step, sec in done["steps"].items())
    print(f"segkit warmup: compiled caches filled in {done['seconds']:.1f} s ({steps})")
    return 0


def _error_text(exc: SegkitError) -> str:
    """``segkit: error: ...`` on one line; a config's problems one per line."""
    problems = getattr(exc, "problems", None) or []
    if len(problems) > 1:
        head = " ".join(str(exc).splitlines()[0].split())
        lines = [" ".join(str(p).split()) for p in problems]
        return f"segkit: error: {head}\n" + "\n".join(f"  - {p}" for p in lines)
    return "segkit: error: " + " ".join(str(exc).split())  # one line, always


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``segkit`` command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 success, 1 a report notebook failed (or ``init``'s check of the config
        it wrote), 2 a usage, config or input error.
    """
    args = build_parser().parse_args(argv)
    commands = {
        "init": _init,
        "score": _score,
        "report": _report,
        "config": _config,
        "warmup": _warmup,
    }
    try:
        return commands[args.command](args)
    except SegkitError as exc:
        print(_error_text(exc), file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("segkit: interrupted", file=sys.stderr, flush=True)
        return 130
