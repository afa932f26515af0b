"""Batch run of the ganflow experiment `sde-neural` (Cao–Guo 2020 Theorems 1–2 on an MLP GAN:
weak orders of minibatch simultaneous/alternating SGDA against the SDEs (9)/(10) with the Σ
factor, with martingale control variates).

```text
python scripts/run_sde_neural.py --out runs/sde-neural [--preset quick|full] [--seeds 2048]
       [--set etas=[0.8,0.4,0.2,0.1,0.05] --set batch_size=64 --set width=12 ...]
       [--set 'variants=["activation=relu", "batch_size=8"]'] [--cpu-devices 8] [--resume]
```

The seeds of every (η, scheme, process) cell are sharded over every device the process sees
(`--cpu-devices N` makes N CPU devices; on a GPU machine its GPUs); every engine segment is
checkpointed, so `--resume` continues an interrupted run bitwise. See
`ganflow.studies.batch_main` for the multi-host options. The same code as
`ganflow run sde-neural`.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("sde-neural"))
