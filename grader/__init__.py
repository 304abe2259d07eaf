"""dlgrade: grading and scaffolding for the VITMAV45 deep-learning homework.

The package is the engine: it knows no assignment. An assignment is a folder with a YAML spec,
a task README and pytest files; see `grader.spec` and `grader.plugin`. Importing this package
stays cheap because the sandboxed worker imports `grader.worker` and `grader.protocol` from it.
"""
__version__ = "0.1.0"
