r"""Claims about mode coverage over training on mixtures of Gaussians (Nagarajan–Kolter 2017 §4,
Fig. 1)."""

from collections.abc import Sequence
from typing import Any

import numpy as np


def nk_coverage_headline(modes: Any, steps: Any, methods: Sequence[str], num_modes: int,
                         fraction: float = 0.9) -> dict[str, Any]:
    r"""The headline claim of Nagarajan–Kolter 2017 §4 / Fig. 1 (their gradient penalty covers
    all modes of the mixture quickly, a 10-unrolled GAN slowly, a vanilla GAN collapses), checked
    on the modes covered (`ganflow.games.mode_metrics`) of a run, shape (seed, method, step):

    - `t_nk`, `t_unrolled`, `t_vanilla`: the first save step at which ≥ `fraction` of the seeds
      cover all `num_modes` modes (None: never);
    - `budget`: the first save step with NK at ≥ `fraction` full coverage **and** vanilla's
      mean modes below NK's mean (None: none), with the three means there;
    - `holds_budget`: such a budget exists; `holds_faster`: NK reaches full coverage in ≥
      `fraction` of the seeds strictly earlier than unrolled (or unrolled never does);
    - `holds`: both.

    `methods` names the method axis; the methods `nk`, `vanilla` and `unrolled` are looked up
    by name (a missing one: its entries None).
    """
    modes, steps = np.asarray(modes), np.asarray(steps)
    idx = {m: i for i, m in enumerate(methods)}
    out: dict[str, Any] = {"fraction": fraction, "num_modes": num_modes}
    full = modes >= num_modes  # (seed, method, step)
    frac_full = full.mean(axis=0)  # (method, step)
    means = modes.mean(axis=0)

    def first(m):
        if m not in idx:
            return None
        hit = np.nonzero(frac_full[idx[m]] >= fraction)[0]
        return None if hit.size == 0 else int(steps[hit[0]])

    out["t_nk"], out["t_unrolled"], out["t_vanilla"] = (first("nk"), first("unrolled"),
                                                        first("vanilla"))
    out["budget"] = None
    if "nk" in idx and "vanilla" in idx:
        i_nk, i_v = idx["nk"], idx["vanilla"]
        for j, s in enumerate(steps):
            if frac_full[i_nk, j] >= fraction and means[i_v, j] < means[i_nk, j]:
                out["budget"] = int(s)
                out["at_budget"] = {m: (float(means[idx[m], j]), float(frac_full[idx[m], j]))
                                    for m in ("nk", "vanilla", "unrolled") if m in idx}
                break
    out["holds_budget"] = out["budget"] is not None
    if "unrolled" in idx and "nk" in idx:
        out["holds_faster"] = out["t_nk"] is not None and (
            out["t_unrolled"] is None or out["t_nk"] < out["t_unrolled"])
    else:
        out["holds_faster"] = None
    out["holds"] = bool(out["holds_budget"] and out["holds_faster"])
    return out
