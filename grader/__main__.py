"""`python -m grader`: the same command line as `python cli.py` and `dlgrade` (grader/cli.py)."""
from grader.cli import main

raise SystemExit(main())
