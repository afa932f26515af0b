"""`python -m ganflow`: the `ganflow` command (see `ganflow.studies`)."""

import sys

from .studies import main

sys.exit(main())
