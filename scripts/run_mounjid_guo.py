"""Batch run of the ganflow experiment `mounjid-guo` (Mounjid & Guo 2021 §3–4: SGD against the
per-layer adaptive rate LSGD, the batch-size sweep, and η against 2/a per layer).

```text
python scripts/run_mounjid_guo.py --out runs/mounjid-guo [--preset quick] [--seeds 32]
       [--set key=value ...] [--cpu-devices 8] [--resume]
```

Seeds are sharded over every device the process sees; see `ganflow.studies.batch_main` for the
multi-host options. The same code as `ganflow run mounjid-guo`.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("mounjid-guo"))
