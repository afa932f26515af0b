"""Batch run of the `weak-error` experiment on accelerators and clusters; the same code as
`ganflow run weak-error` (configs, presets, run folder, report).

```text
python scripts/run_weak_error.py --out runs/weak-error [--preset P] [--seeds N]
       [--set key=value ...]
       [--cpu-devices N] [--coordinator host:port --num-processes P --process-id i] [--resume]
```

See `ganflow.studies.batch_main` for the multi-device and multi-host options.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("weak-error"))
