"""The R1 Dirac-GAN ensemble SDE written as a PyTorch user would: a batched tensor over seeds and
a Python loop over Euler–Maruyama steps (optional baseline of bench_sde.py; needs torch)."""

import time


def torch_ensemble_ns(seeds: int, steps: int, dt: float, sigma: float, gamma: float,
                      repeats: int, threads: int | None = None) -> dict | None:
    """ns per seed-step (median of `repeats`) of the PyTorch loop, float32 CPU; None without
    torch."""
    try:
        import torch
    except ImportError:
        return None
    if threads is not None:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)

    def run():
        theta = torch.ones(seeds)
        psi = torch.full((seeds,), 0.5)
        sq = dt**0.5
        with torch.no_grad():
            for _ in range(steps):
                s = torch.sigmoid(psi * theta)
                b_theta = psi * s
                b_psi = -theta * s - gamma * psi
                noise = torch.randn(2, seeds, generator=gen)
                theta = theta + dt * b_theta + sigma * sq * noise[0]
                psi = psi + dt * b_psi + sigma * sq * noise[1]
        return theta, psi

    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "ns_per_seed_step": times[len(times) // 2] / (seeds * steps) * 1e9,
        "threads": torch.get_num_threads(),
        "version": torch.__version__,
    }
