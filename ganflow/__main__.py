"""`python -m ganflow`: the main job (see `ganflow.experiments`)."""

import sys

from .studies import main

sys.exit(main())
