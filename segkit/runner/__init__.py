"""The runner, on top of every stage: papermill, HTML, manifest and the CLI.

Modules: ``notebooks`` (execute the numbered notebooks into a run folder),
``html`` (nbconvert export and the index), ``manifest`` (checksums, versions,
git commit) and ``cli`` (``segkit report|score|config``).
"""

from segkit.runner.deferred import defer_iri_grammar

# before any runner module imports nbformat (and through it jsonschema)
defer_iri_grammar()
