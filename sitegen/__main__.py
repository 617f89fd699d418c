"""`python -m sitegen ...`: the same command line as build.py, in the current folder."""

from .cli import command_line

command_line()
