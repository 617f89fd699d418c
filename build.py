#!/usr/bin/env python3
"""Build the explainer: `python build.py [build|check|serve] ...`; see --help."""

import sys
from pathlib import Path

from sitegen.cli import main

if __name__ == "__main__":
    sys.exit(main(root=Path(__file__).resolve().parent))
