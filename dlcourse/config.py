"""Settings as a dataclass, overridden from the command line when run as a script.

    @dataclass
    class Config:
        epochs: int = 50       # passes over the training set
        mode: str = "embedded"

    cfg = from_command_line(Config)   # python ae.py --epochs 5 --mode full  ->  Config(epochs=5, mode="full")

In a notebook (Jupyter, Colab, `jupyter nbconvert --execute`) the kernel's own arguments are not
the notebook's, so no flags are read: edit the defaults (or the returned object) instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys


def in_notebook() -> bool:
    """True inside an IPython kernel (Jupyter, Colab, nbconvert), whose argv belongs to the kernel."""
    return "ipykernel" in sys.modules or "google.colab" in sys.modules


def from_command_line(config_class, argv: list[str] | None = None, *, description: str | None = None):
    """An instance of the dataclass `config_class`: its defaults, each overridable by a
    `--field-name value` flag (booleans: `--flag` / `--no-flag`; tuples: several values).
    `argv` defaults to the script's arguments, and to none at all in a notebook."""
    if argv is None:
        argv = [] if in_notebook() else sys.argv[1:]
    parser = argparse.ArgumentParser(description=description or (config_class.__doc__ or "").strip() or None)
    defaults = config_class()
    for f in dataclasses.fields(config_class):
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, (tuple, list)):
            item = type(default[0]) if default else str
            parser.add_argument(flag, dest=f.name, type=item, nargs="+", default=default, metavar=f.name.upper())
        else:
            parser.add_argument(flag, dest=f.name, type=type(default), default=default)
    values = vars(parser.parse_args(argv))
    return config_class(**{k: tuple(v) if isinstance(getattr(defaults, k), tuple) else v for k, v in values.items()})
