"""python -m csv2pg."""

import sys

from csv2pg.cli import main

sys.exit(main())
