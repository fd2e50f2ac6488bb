"""The runner, on top of every stage: papermill, HTML, manifest and the CLI.

Modules: ``notebooks`` (execute the numbered notebooks into a run folder),
``html`` (nbconvert export and the index), ``manifest`` (checksums, versions,
git commit) and ``cli`` (``segkit report|score|config``).
"""
