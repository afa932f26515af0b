"""The configuration of the main job `ganflow`: one frozen dataclass, filled from the command line.

Every section reads what it needs from it; `quick=True` shrinks every section to a smoke run
(used by the tests and notebooks).
"""

import dataclasses
from pathlib import Path

from .._checks import check_int_at_least, check_positive

DEFAULT_OUT = Path("ganflow-output")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    r"""Settings of one run of the main job.

    - `out`: the output folder (created); `report.md` and the PNG figures go there;
    - `sections`: the sections to run, in order;
    - `quick`: small step counts and grids everywhere (a smoke run);
    - `seed`: the PRNG seed of every random draw (initial states, Brownian paths, batches);
    - `eta`: the learning rate h of the discrete schemes in the spectra section;
    - `offset`: the spectra section starts every trajectory at x* + offset·(1, 1);
    - `horizon`: the time T = h·(number of steps) simulated in the spectra section
      (`quick` halves it).
    """

    out: Path = DEFAULT_OUT
    sections: tuple[str, ...] = ()
    quick: bool = False
    seed: int = 0
    eta: float = 0.1
    offset: float = 0.3
    horizon: float = 200.0

    def __post_init__(self):
        object.__setattr__(self, "out", Path(self.out))
        check_int_at_least("seed", self.seed, 0)
        check_positive("eta", self.eta)
        check_positive("offset", self.offset)
        check_positive("horizon", self.horizon)
        if self.horizon < 20 * self.eta:
            raise ValueError(
                f"horizon={self.horizon} is too short for eta={self.eta}: at least 20 steps needed"
            )

    @property
    def time_horizon(self) -> float:
        """The simulated time T of the spectra section (halved by `quick`)."""
        return self.horizon / 2 if self.quick else self.horizon

    @property
    def num_steps(self) -> int:
        """Steps of the discrete schemes: T / h, rounded to a multiple of 4 (the convergence
        verdict compares the second and the last quarter of the run)."""
        n = int(round(self.time_horizon / self.eta))
        return max(4 * (n // 4), 4)
