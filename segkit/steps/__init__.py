"""Analysis steps: each module has run(ctx) that reads and writes run-folder artifacts."""
