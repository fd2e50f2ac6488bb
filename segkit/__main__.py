"""``python -m segkit``: the same command line as ``segkit``."""

from segkit.runner.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
