r"""One outcome vocabulary for every solution object in ganflow.

Every ensemble member (a seed under one setting of the hyper-parameters) ends with exactly one
`RESULTS` code, stored as an `int32` array (usable inside `jit`/`vmap`, written to the results
store with its names and messages as CF `flag_values`/`flag_meanings` attributes). Modelled on
diffrax's `RESULTS`: a code, a short name and a message that says what happened.
"""

import enum

import numpy as np


class RESULTS(enum.IntEnum):
    """Outcome of one ensemble member.

    - `successful` (0): ran every requested step; no convergence criterion was asked for.
    - `converged` (1): met the convergence criterion (within `tol` of x*, or a last step ≤ `tol`).
    - `max_steps_reached` (2): a convergence criterion was asked for and not met within the step
      budget (diffrax: `max_steps` exhausted).
    - `diverged` (3): the state became non-finite or left the ball ‖x‖_∞ ≤ `blowup`; the member
      was frozen at its last good state and `diverged_step` records when.
    - `failed` (4): the solver failed for another reason (a diffrax failure other than
      `max_steps`).
    """

    successful = 0
    converged = 1
    max_steps_reached = 2
    diverged = 3
    failed = 4

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @classmethod
    def names(cls, codes) -> list[str]:
        """Names of an array of codes (flattened)."""
        return [cls(int(c)).name for c in np.asarray(codes).ravel()]

    @classmethod
    def summary(cls, codes) -> dict[str, int]:
        """How many members ended with each outcome."""
        arr = np.asarray(codes).ravel()
        return {r.name: int(np.sum(arr == r.value)) for r in cls}

    @classmethod
    def flag_attrs(cls) -> dict[str, object]:
        """CF-convention attributes describing the codes (for the results store)."""
        return {
            "flag_values": [int(r.value) for r in cls],
            "flag_meanings": " ".join(r.name for r in cls),
            "flag_messages": [r.message for r in cls],
        }


_MESSAGES = {
    RESULTS.successful: "ran every requested step",
    RESULTS.converged: "met the convergence criterion",
    RESULTS.max_steps_reached: "did not meet the convergence criterion within the step budget",
    RESULTS.diverged: "the state became non-finite or exceeded the blow-up bound",
    RESULTS.failed: "the solver failed (see the solver's own result code)",
}
