"""Ensembles sharded over 8 virtual CPU devices equal the single-device result.

`XLA_FLAGS=--xla_force_host_platform_device_count=8` must be set before jax is imported, so the
sharded run happens in a subprocess; it writes its arrays to a file that this (one-device)
process compares with its own run.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

import ganflow as gf
import ganflow.continuous as gc

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np
    import ganflow as gf, ganflow.continuous as gc
    assert jax.device_count() == 8, jax.devices()
    sys.path.insert(0, {tests!r})
    from test_sharding import run_all
    out = run_all()
    np.savez({path!r}, **out)
    print("SHARDS", out.pop("_num_shards"))
    """
)


def run_all(shard=None):
    """Scan and diffrax SDE ensembles and an SGA ensemble; 20 seeds (not a multiple of 8:
    exercises the padding)."""
    game = gf.DiracGAN("gan")
    b = game.vector_field(population=True)

    def r1(x):  # R1 on the Dirac-GAN: Φ_D = Φ − (γ/2)ψ², γ = 1
        bt, bw = b(x)
        return bt, type(bw)(bw.psi - x[1].psi)

    sde = gc.SDE(r1, gc.ConstantDiffusion(0.2))
    keys = jax.random.split(jax.random.key(42), 20)
    x0 = game.make_state(1.0, 0.5)
    layout = gf.engine.Execution(shard=shard)
    scan = gc.sde_ensemble(sde, x0, 0.0, 1.0, dt=0.01, keys=keys, save_every=25,
                           execution=layout)
    dfx = gc.sde_ensemble(
        sde, x0, 0.0, 1.0, dt=0.05, keys=keys, save_every=5, method="diffrax", execution=layout
    )
    sga = gf.sgda_ensemble(
        game, game.make_state(jnp.linspace(0.5, 1.5, 20), jnp.ones(20)), 0.1, 4, 10, keys,
        scheme="alternating", batched_x0=True, execution=layout,
    )
    import optax

    r1_field = gf.stabilise(game, gf.R1(1.0), population=True)
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(3), 20))
    train = gf.training.run(
        gf.training.AlternatingGDA(r1_field, optax.sgd(0.1)), x0s, 40, save_every=10,
        x_star=game.equilibrium(), execution=layout,
    )
    shards = scan.dataset.attrs["sharded_over"]  # the engine gathers results on the host
    return {
        "train": np.asarray(train.xs[1].psi),
        "train_status": np.asarray(train.status),
        "scan": np.asarray(scan.xs[0].theta),
        "diffrax": np.asarray(dfx.xs[1].psi),
        "sga": np.asarray(sga.xs[0].theta),
        "status": np.asarray(scan.status),
        "_num_shards": shards,
    }


def test_eight_devices_equal_one(tmp_path):
    path = str(tmp_path / "sharded.npz")
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    env["JAX_PLATFORMS"] = "cpu"
    code = SCRIPT.format(tests=os.path.dirname(__file__), path=path)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDS 8" in proc.stdout, proc.stdout
    sharded = np.load(path)
    single = run_all(shard=False)
    for name in ("scan", "diffrax", "sga", "status", "train", "train_status"):
        np.testing.assert_allclose(sharded[name], single[name], rtol=0, atol=1e-12, err_msg=name)
    assert np.all(single["status"] == 0)  # RESULTS.successful
