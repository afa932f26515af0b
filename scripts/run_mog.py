"""Batch run of the `mog` experiment on accelerators and clusters; the same code as
`ganflow run mog` (configs, presets, run folder, report).

```text
python scripts/run_mog.py --out runs/mog [--preset nk] [--seeds 64] [--set key=value ...]
       [--cpu-devices N] [--coordinator host:port --num-processes P --process-id i] [--resume]
```

Seeds are sharded over every device the process sees; on a GPU machine choose the devices with
`CUDA_VISIBLE_DEVICES`, on a CPU make one device per core with `--cpu-devices`. `ganflow report
DIR` rewrites the report from the saved results. See `ganflow.studies.batch_main`.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("mog"))
