"""`python -m benchmark` is the `interlingua` command."""

import sys

from benchmark.cli import main

sys.exit(main())
