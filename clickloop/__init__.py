"""The ``clickloop`` command line: one entry point that dispatches to each component's command.

The CLI sits on top of every other package and imports a subcommand's module only when that
subcommand runs (:mod:`clickloop.cli`). ``python3 -m tracker`` bootstraps the environment and
then execs this CLI.
"""
