"""The verbs the CLI calls, one module per verb, each a keyword-only function that
returns a result object (cli.py and `python -m grader` parse arguments and render results), plus
the notebook's check cell (notebook_check). May import every room; nothing but the CLI, the
notebook cell and other commands imports a command module.
"""
