"""``python -m evals.benchmarks.petshop PATH [--out DIR]``: the PetShop benchmark's command line."""

import sys

from evals.benchmarks.petshop.cli import main

sys.exit(main())
