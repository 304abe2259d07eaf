"""How a verb of the command line is declared: once, in one place, its arguments (each with its help and
default) beside the function that receives them as keyword arguments.

    @verb("list", help="list the assignments", interrupted="nothing was written")
    def list_verb(*, as_json: bool) -> int: ...

grader/cli.py builds the parser from these declarations and calls the handler with every argument the
verb declares, by its argparse name, plus `as_json` (the --json every verb has) and `silent` (the global
-q) where the handler's signature names it. An argument whose default belongs to the command function
(one source) is declared with `default=COMMAND_DEFAULT` and, when not given, is not passed on.
"""
from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# what every handler may receive besides its own arguments (set by grader/cli.py's parsers)
GLOBAL_OPTIONS = ("as_json", "silent")
# the default of an argument whose default is the command function's: not given, it is not passed at all
COMMAND_DEFAULT = argparse.SUPPRESS


@dataclass(frozen=True)
class Arg:
    """One argument: argparse's flags (or the positional's name) and add_argument's keywords."""
    flags: tuple[str, ...]
    options: dict[str, Any]


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class OneOf:
    """Arguments of which at most one may be given (argparse's mutually exclusive group)."""
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Verb:
    """A command-line verb: its help, its arguments, the function that runs it and returns the exit code,
    and what a Ctrl-C leaves behind (None: the handler says it itself)."""
    name: str
    help: str
    handler: Callable[..., int]
    args: tuple[Arg | OneOf, ...] = ()
    description: str | None = None
    epilog: str | None = None          # shown as written (line breaks kept)
    interrupted: str | None = "stopped"

    def add_to(self, sub: argparse._SubParsersAction, shared: argparse.ArgumentParser) -> None:
        """This verb's subparser, its arguments in the order declared (the order --help shows)."""
        layout = {"epilog": self.epilog, "formatter_class": argparse.RawDescriptionHelpFormatter} if self.epilog else {}
        p = sub.add_parser(self.name, parents=[shared], help=self.help, description=self.description, **layout)
        for each in self.args:
            if isinstance(each, OneOf):
                group = p.add_mutually_exclusive_group()
                for a in each.args:
                    group.add_argument(*a.flags, **a.options)
            else:
                p.add_argument(*each.flags, **each.options)
        p.set_defaults(verb=self)

    def run(self, given: dict[str, Any]) -> int:
        """Call the handler with the parsed arguments: its own ones all, the global ones it names."""
        wanted = inspect.signature(self.handler).parameters
        own = {k: v for k, v in given.items() if k not in GLOBAL_OPTIONS}
        return self.handler(**own, **{k: given[k] for k in GLOBAL_OPTIONS if k in wanted and k in given})


def verb(name: str, *, help: str, args: tuple[Arg | OneOf, ...] = (), description: str | None = None,
         epilog: str | None = None, interrupted: str | None = "stopped") -> Callable[[Callable[..., int]], Verb]:
    """Declare the decorated function as the handler of the verb `name` with these arguments."""
    def declare(handler: Callable[..., int]) -> Verb:
        return Verb(name, help, handler, tuple(args), description, epilog, interrupted)
    return declare
