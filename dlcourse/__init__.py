"""The course's student package (BME VITMAV45, "Deep Learning a gyakorlatban").

What templates, reference solutions and your own notebooks import:

- `dlcourse.datasets`: readers for the course's data sets (MNIST IDX files, CIFAR-10 batches,
  CSV series, scikit-learn's 8x8 digits, a synthetic daily series), plain numpy out;
- `dlcourse.trial_log`: `TrialLog`, the writer of a hyperparameter search's training log, and
  `load_trial_log` to read it back;
- `dlcourse.config`: `from_command_line(Config)`, a dataclass of settings overridden by
  `--flags` when run as a script and left at its defaults in a notebook.

It needs numpy only (scikit-learn for the digits). The grader reads with the same code, and it
never imports the grader.
"""
__version__ = "0.1.0"
