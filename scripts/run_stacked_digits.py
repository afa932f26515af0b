"""Batch run of the `stacked-digits` experiment (1000 modes from scikit-learn's 8×8 digits) on
accelerators and clusters; the same code as `ganflow run stacked-digits`.

```text
python scripts/run_stacked_digits.py --out runs/stacked-digits --preset paper [--seeds 10]
       [--set methods=vanilla,nk] [--resume]
```

See `ganflow.studies.batch_main` for the multi-device and multi-host options.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("stacked-digits"))
