"""Imports the runner defers (segkit.runner.deferred)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_runner_defers_the_iri_grammar_and_iri_checks_still_work():
    code = (
        "import sys\n"
        "import segkit.runner.notebooks\n"
        "import jsonschema\n"
        "print('rfc3987_syntax.syntax_helpers' in sys.modules)\n"
        "checker = jsonschema.FormatChecker()\n"
        "print(checker.conforms('http://example.com/caf\\u00e9', 'iri'))\n"
        "print(checker.conforms('no iri here', 'iri'))\n"
        "print('rfc3987_syntax.syntax_helpers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "False", "True"]
