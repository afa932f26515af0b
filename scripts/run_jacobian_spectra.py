"""Batch run of the `jacobian-spectra` experiment on accelerators and clusters; the same code as
`ganflow run jacobian-spectra` (configs, presets, run folder, report).

```text
python scripts/run_jacobian_spectra.py --out runs/jacobian-spectra [--preset P] [--seeds N]
       [--set key=value ...]
       [--cpu-devices N] [--coordinator host:port --num-processes P --process-id i] [--resume]
```

See `ganflow.studies.batch_main` for the multi-device and multi-host options.
"""

import sys

from ganflow.studies import batch_main

if __name__ == "__main__":
    sys.exit(batch_main("jacobian-spectra"))
