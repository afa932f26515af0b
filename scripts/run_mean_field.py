"""Batch run of the `mean-field` experiment (Wang–Hu–Lu 2019; survey §5.3.1) on accelerators
and clusters: the microscopic simulation against its n → ∞ ODE (concentration slope, phase
diagrams for d = 1 and 2), resumable, labelled results in OUT/results.zarr.

```text
python scripts/run_mean_field.py --out runs/mean-field --preset paper   # n up to 10^5
python scripts/run_mean_field.py --out runs/mean-field --preset paper --resume
python scripts/run_mean_field.py --out runs/mf --set ns=[1000,10000,100000] --set dims=[]
```

The `paper` preset runs n = 10²…10⁵ with 32 seeds; each unit of time of a member is one
compiled `fori_loop` of n steps, O(n·d) memory per member (n = 10⁵, float32, measured from the
compiled step: d = 1, 1.2 MB of state and 3.2 MB of temporaries; d = 2, 2.0 MB and 4.0 MB).
On 2 CPU cores the n = 10⁵ runs alone take hours; on a GPU the seeds run side by side.
Options: see `ganflow.studies.batch_main`.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("mean-field"))
