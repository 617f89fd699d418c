#!/usr/bin/env python3
"""Build the explainer: `python build.py [build|check|serve] ...`; see --help."""

from pathlib import Path

from sitegen.cli import command_line

if __name__ == "__main__":
    command_line(root=Path(__file__).resolve().parent)
