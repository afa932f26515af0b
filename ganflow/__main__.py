"""`python -m ganflow`: the main job (see `ganflow.experiments`)."""

import sys

from .experiments._cli import main

sys.exit(main())
