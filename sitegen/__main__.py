"""`python -m sitegen ...`: the same command line as build.py, in the current folder."""

import sys

from .cli import main

sys.exit(main())
