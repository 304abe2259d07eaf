"""One module per CLI verb. Each exposes a keyword-only function that returns a result object;
`cli.py` parses arguments and renders results, and tests or notebooks can call the same functions."""
