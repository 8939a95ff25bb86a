"""``python -m benchmarks``: the whole benchmark (``--quick`` for a short run, ``--help``)."""
import sys

from benchmarks.run import main

sys.exit(main())
