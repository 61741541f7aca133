"""Command-line tools: embed a folder, evaluate an embedder, report quality gates."""
