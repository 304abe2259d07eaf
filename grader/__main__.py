"""`python -m grader`: the same command line as `python cli.py` (cli.py holds the parser)."""
import sys

from cli import main

sys.exit(main())
