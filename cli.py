"""`python cli.py ...`: the command line of grader/cli.py (also `dlgrade ...` and `python -m grader ...`)."""
from grader.cli import main
if __name__ == "__main__":
    raise SystemExit(main())
