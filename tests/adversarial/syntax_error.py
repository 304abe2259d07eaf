"""Does not parse: the def line lacks its colon."""
import numpy as np


def answer()
    return 42
