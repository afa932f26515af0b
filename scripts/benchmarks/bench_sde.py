"""Ensemble SDE cost (issue 4, Performance), printed as one JSON object.

1. The R1-regularised Dirac-GAN (GAN loss, γ = 1: Φ_D = Φ − (γ/2)ψ²), constant additive
   diffusion σ = 0.1 on both coordinates, dt = 0.01, T = 10 (10³ steps), 10⁴ seeds, float32,
   x0 = (1, 0.5) for every seed. ns per seed-step (median of repeats after a warm-up compile;
   compile time separately) for: ganflow's fast path (`sde_ensemble`, `lax.scan` + counter-based
   noise), ganflow via diffrax (Euler, `UnsafeBrownianPath` + `ForwardMode`; and the counter
   path), a hand-written `lax.scan` with the same counter-based noise inlined (ganflow's
   overhead: target ≤ 1.2×), a hand-written `lax.scan` drawing `jax.random.normal` once per step
   for the batch (what a JAX user writes), PyTorch (batched tensor, Python loop; optional), and
   the fast path / diffrax sharded over 2 virtual devices (a subprocess with XLA_FLAGS).
2. Ways of drawing the increments, each a full EM scan of the same ensemble (`noise_*`).
3. One Euler–Maruyama step of the Cao–Guo SDE with the Σ factor on the MoG MLP GAN
   (~35k parameters, B = 256, n = B examples behind Σ̂): cost as a multiple of b0 (target ≤ 3×)
   and XLA's peak temporary memory against one (B, d) per-example gradient matrix; σ dW by
   ganflow's VJP form (no (B, d) matrix) and by the explicit per-example factor.

    python scripts/benchmarks/bench_sde.py [--quick]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _common import emit, mlp_gan  # noqa: E402
from jax.extend.random import threefry2x32_p  # noqa: E402

import ganflow as gf  # noqa: E402
import ganflow.continuous as gc  # noqa: E402
from ganflow.continuous import normal_from_unit, threefry2x32  # noqa: E402

GAMMA, SIGMA = 1.0, 0.1


def r1_dirac_field():
    """b0 of the Dirac-GAN (GAN loss) with R1: the discriminator's field gains −γψ."""
    b = gf.DiracGAN("gan").vector_field(population=True)

    def field(x):
        bt, bw = b(x)
        return bt, type(bw)(bw.psi - GAMMA * x[1].psi)

    return field


def timed(fn, repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), first


def hand_drift(th, ps):
    s = jax.nn.sigmoid(ps * th)
    return ps * s, -th * s - GAMMA * ps


def autodiff_drift(th, ps):
    """ganflow's own drift (the game's b0 by autodiff, plus R1) on the batch."""
    bt, bw = jax.vmap(r1_dirac_field())(
        (gf.models.DiracGenerator(th), gf.models.LinearDiscriminator(ps))
    )
    return bt.theta, bw.psi


def make_hand_scan(seeds, steps, dt, noise, drift=hand_drift):
    """A hand-written EM `lax.scan` over the batch (θ, ψ of shape (seeds,)); `noise(t)` returns
    the step's two (seeds,) standard normals; `drift` the closed form (default) or autodiff."""
    sq = jnp.float32(jnp.sqrt(dt))

    @jax.jit
    def run(th, ps):
        def step(c, t):
            th, ps = c
            n1, n2 = noise(t)
            b1, b2 = drift(th, ps)
            return (th + dt * b1 + SIGMA * sq * n1, ps + dt * b2 + SIGMA * sq * n2), None

        return jax.lax.scan(step, (th, ps), jnp.arange(steps, dtype=jnp.uint32))[0]

    th = jnp.ones(seeds, jnp.float32)
    ps = jnp.full(seeds, 0.5, jnp.float32)
    return lambda: run(th, ps)


def noise_variants(seeds, keys):
    """Ways to draw a step's 2 normals per seed; all but `one_call_per_step` keep each seed's
    numbers a function of its own key (and the step)."""
    kd = jax.vmap(lambda k: jax.random.key_data(jax.random.fold_in(k, 1)))(keys)
    k1, k2 = kd[:, 0], kd[:, 1]
    base = jax.random.key(1)

    def vmap_fold_in(t):  # one key per seed per step, jax.random.normal
        z = jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, t), (2,)))(keys)
        return z[:, 0], z[:, 1]

    def one_call_per_step(t):  # one normal call for the batch: NOT per-seed reproducible
        z = jax.random.normal(jax.random.fold_in(base, t), (2, seeds))
        return z[0], z[1]

    def _unit(w):
        return jax.lax.bitcast_convert_type((w >> 9) | jnp.uint32(0x3F800000), jnp.float32) - 1

    def primitive_threefry_erfinv(t):  # jax's threefry primitive (unfused on CPU) + erfinv
        w1, w2 = threefry2x32_p.bind(k1, k2, jnp.full_like(k1, t), jnp.zeros_like(k1))
        return normal_from_unit(_unit(w1), jnp.float32), normal_from_unit(_unit(w2), jnp.float32)

    def fused_threefry_erfinv(t):  # ganflow's choice
        w1, w2 = threefry2x32(k1, k2, t, jnp.uint32(0))
        return normal_from_unit(_unit(w1), jnp.float32), normal_from_unit(_unit(w2), jnp.float32)

    def fused_threefry_box_muller(t):
        w1, w2 = threefry2x32(k1, k2, t, jnp.uint32(0))
        u1, u2 = 1.0 - _unit(w1), _unit(w2)
        r = jnp.sqrt(-2 * jnp.log(u1))
        return r * jnp.cos(2 * jnp.pi * u2), r * jnp.sin(2 * jnp.pi * u2)

    zeros = jnp.zeros(seeds, jnp.float32)

    def none(t):  # arithmetic only (lower bound)
        return zeros, zeros

    return {
        "vmap_fold_in_normal": vmap_fold_in,
        "one_normal_call_per_step_not_per_seed": one_call_per_step,
        "jax_threefry_primitive_erfinv": primitive_threefry_erfinv,
        "fused_threefry_erfinv_ganflow": fused_threefry_erfinv,
        "fused_threefry_box_muller": fused_threefry_box_muller,
        "no_noise_arithmetic_only": none,
    }


def dirac_section(seeds, steps, dt, repeats):
    keys = jax.random.split(jax.random.key(0), seeds)
    sde = gc.SDE(r1_dirac_field(), gc.ConstantDiffusion(SIGMA))
    game = gf.DiracGAN("gan")
    x0 = game.make_state(jnp.float32(1.0), jnp.float32(0.5))
    t1 = steps * dt
    per = seeds * steps
    out, compile_s = {}, {}

    def run_ganflow(**kw):
        return lambda: gc.sde_ensemble(sde, x0, 0.0, t1, dt=dt, keys=keys, **kw).xs

    cases = {
        "ganflow_fast_path": run_ganflow(),
        "ganflow_diffrax_unsafe_brownian": run_ganflow(method="diffrax", brownian="unsafe"),
        "ganflow_diffrax_counter_brownian": run_ganflow(method="diffrax", brownian="counter"),
        "hand_scan_same_counter_noise": make_hand_scan(
            seeds, steps, dt, noise_variants(seeds, keys)["fused_threefry_erfinv_ganflow"]
        ),
        "hand_scan_same_counter_noise_autodiff_drift": make_hand_scan(
            seeds, steps, dt, noise_variants(seeds, keys)["fused_threefry_erfinv_ganflow"],
            drift=autodiff_drift,
        ),
        "hand_scan_jax_random_normal_per_step": make_hand_scan(
            seeds, steps, dt, noise_variants(seeds, keys)["one_normal_call_per_step_not_per_seed"]
        ),
    }
    for name, fn in cases.items():
        med, first = timed(fn, repeats)
        out[name] = med / per * 1e9
        compile_s[name] = first - med
    noise = {}
    for name, fn in noise_variants(seeds, keys).items():
        med, _ = timed(make_hand_scan(seeds, steps, dt, fn), repeats)
        noise[name] = med / per * 1e9
    return out, compile_s, noise


def sharded_section(seeds, steps, dt, repeats, devices=2):
    """Runs the fast path and the diffrax path in a subprocess with `devices` CPU devices."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import sys, json; sys.path.insert(0, {here!r}); import bench_sde as b; "
        f"print('JSON' + json.dumps(b._sharded_child({seeds}, {steps}, {dt!r}, {repeats})))"
    )
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("JSON"):
            return json.loads(line[4:])
    return {"error": proc.stderr[-2000:]}


def _sharded_child(seeds, steps, dt, repeats):
    keys = jax.random.split(jax.random.key(0), seeds)
    sde = gc.SDE(r1_dirac_field(), gc.ConstantDiffusion(SIGMA))
    x0 = gf.DiracGAN("gan").make_state(jnp.float32(1.0), jnp.float32(0.5))
    out = {"devices": jax.device_count()}
    for name, kw in [("ganflow_fast_path", {}),
                     ("ganflow_diffrax_unsafe_brownian", {"method": "diffrax",
                                                           "brownian": "unsafe"})]:
        med, first = timed(
            lambda kw=kw: gc.sde_ensemble(sde, x0, 0.0, steps * dt, dt=dt, keys=keys, **kw).xs,
            repeats,
        )
        out[name] = med / (seeds * steps) * 1e9
    single = gc.sde_ensemble(sde, x0, 0.0, steps * dt, dt=dt, keys=keys,
                             execution=gf.engine.Execution(shard=False))
    sharded = gc.sde_ensemble(sde, x0, 0.0, steps * dt, dt=dt, keys=keys)
    out["sharded_equals_single_bitwise"] = bool(
        jnp.array_equal(single.xs[0].theta, sharded.xs[0].theta)
    )
    return out


def mog_section(quick, repeats):
    width, batch = (16, 32) if quick else (128, 256)
    phi, example_phi, x, (data, z) = mlp_gan(jax.random.key(0), width=width, batch=batch)
    d = sum(a.size for a in jax.tree_util.tree_leaves(x))
    eta, dt = 0.01, 0.01
    sde = gc.cao_guo_sde(example_phi, eta, batch, data=(data, z))
    structure = sde.diffusion.noise_structure(x)
    kd = jax.random.key_data(jax.random.key(3))
    b0 = gf.vector_field(phi)

    @jax.jit
    def field_b0(x):
        return b0(x, data, z)

    @jax.jit
    def em_step(x, k):
        dw = jax.tree_util.tree_map(
            lambda w: w * jnp.sqrt(dt), gc._random.tree_normals(kd, k, structure)
        )
        b = sde.drift(x, *sde.args)
        s = sde.diffusion.apply(0.0, x, dw)
        return jax.tree_util.tree_map(lambda a, bb, ss: a + dt * bb + ss, x, b, s)

    @jax.jit
    def drift_only(x):
        return sde.drift(x, *sde.args)

    res = {}
    @jax.jit
    def noise_only(x, k):
        dw = gc._random.tree_normals(kd, k, structure)
        return sde.diffusion.apply(0.0, x, dw)

    @jax.jit
    def factor_noise(x, k):  # the explicit (n, d) per-example factor, for comparison
        dw = gc._random.tree_normals(kd, k, structure)
        return sde.diffusion.factor(0.0, x).apply(dw)

    for name, fn in [("b0", lambda: field_b0(x)),
                     ("sde_drift_per_example_mean", lambda: drift_only(x)),
                     ("sigma_dW_vjp", lambda: noise_only(x, jnp.uint32(5))),
                     ("sigma_dW_explicit_factor", lambda: factor_noise(x, jnp.uint32(5))),
                     ("em_step_with_sigma_factor", lambda: em_step(x, jnp.uint32(5)))]:
        med, _ = timed(fn, repeats)
        res[name + "_ms"] = med * 1e3
    res["em_step_over_b0"] = res["em_step_with_sigma_factor_ms"] / res["b0_ms"]
    res["em_step_over_per_example_b0"] = (
        res["em_step_with_sigma_factor_ms"] / res["sde_drift_per_example_mean_ms"]
    )
    mem = em_step.lower(x, jnp.uint32(5)).compile().memory_analysis()
    mem_b0 = field_b0.lower(x).compile().memory_analysis()
    mem_f = factor_noise.lower(x, jnp.uint32(5)).compile().memory_analysis()
    itemsize = jnp.dtype(jnp.result_type(*jax.tree_util.tree_leaves(x))).itemsize
    bd = batch * d * itemsize
    res.update(
        params=int(d),
        batch=batch,
        peak_temp_bytes_em_step=int(mem.temp_size_in_bytes) if mem else None,
        peak_temp_bytes_b0=int(mem_b0.temp_size_in_bytes) if mem_b0 else None,
        peak_temp_bytes_explicit_factor=int(mem_f.temp_size_in_bytes) if mem_f else None,
        one_B_by_d_matrix_bytes=int(bd),
    )
    if mem:
        res["em_step_temp_over_B_d"] = mem.temp_size_in_bytes / bd
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--no-subprocess", action="store_true", help="skip the sharded run")
    args = parser.parse_args(argv)
    seeds, steps, repeats = (500, 50, 2) if args.quick else (10_000, 1000, 7)
    dt = 0.01
    result = {
        "setup": {
            "game": "Dirac-GAN, GAN loss, R1 γ=1", "diffusion": f"constant additive σ={SIGMA}",
            "dt": dt, "steps": steps, "seeds": seeds, "dtype": "float32",
            "jax": jax.__version__, "devices": jax.device_count(),
            "load_average_at_start": os.getloadavg(),
        }
    }
    ns, compile_s, noise = dirac_section(seeds, steps, dt, repeats)
    result["ns_per_seed_step"] = ns
    result["compile_s"] = compile_s
    result["noise_variants_ns_per_seed_step"] = noise
    from _torch_reference import torch_ensemble_ns

    torch_res = torch_ensemble_ns(seeds, steps, dt, SIGMA, GAMMA, repeats)
    if torch_res is None:
        result["torch"] = "skipped: torch not installed (pip install torch==2.13.0)"
    else:
        result["torch"] = torch_res
        torch1 = torch_ensemble_ns(seeds, steps, dt, SIGMA, GAMMA, repeats, threads=1)
        result["torch_1_thread"] = torch1
    ratios = {
        "fast_path_over_hand_scan_same_noise": ns["ganflow_fast_path"]
        / ns["hand_scan_same_counter_noise"],
        "fast_path_over_hand_scan_same_noise_same_autodiff_drift": ns["ganflow_fast_path"]
        / ns["hand_scan_same_counter_noise_autodiff_drift"],
        "fast_path_over_hand_scan_jax_random": ns["ganflow_fast_path"]
        / ns["hand_scan_jax_random_normal_per_step"],
        "diffrax_unsafe_over_fast_path": ns["ganflow_diffrax_unsafe_brownian"]
        / ns["ganflow_fast_path"],
    }
    if torch_res is not None:
        ratios["fast_path_over_torch"] = ns["ganflow_fast_path"] / torch_res["ns_per_seed_step"]
    if not args.no_subprocess:
        sh = sharded_section(seeds, steps, dt, repeats)
        result["sharded_2_devices_ns_per_seed_step"] = sh
        if torch_res is not None and "ganflow_fast_path" in sh:
            ratios["sharded_fast_path_over_torch"] = (
                sh["ganflow_fast_path"] / torch_res["ns_per_seed_step"]
            )
    result["ratios"] = ratios
    result["mog_mlp_sde_step"] = mog_section(args.quick, repeats=3 if args.quick else 20)
    result["gpu"] = "skipped: no GPU in this task (10^6 seeds x 10^3 steps not run)"
    emit(result)
    return result


if __name__ == "__main__":
    main()
