"""The ensemble engine: layout of seeds × hyper-parameters, the seed convention, divergence,
labelled results in zarr, checkpoints with a bitwise resume after SIGKILL, bad input, and two
processes under `jax.distributed`."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest
import xarray as xr

from ganflow.engine import (
    RESULTS,
    Axis,
    Execution,
    RunFolder,
    Sweep,
    default_chunk,
    run_ensemble,
    seed_keys,
)
from tests.engine_problems import MatrixWalk, NoisyContraction

ROOT = Path(__file__).resolve().parents[1]


def test_grid_layout_coordinates_and_closed_form():
    etas = [0.1, 0.5]
    res = run_ensemble(NoisyContraction(), Sweep(seeds=3, axes={"eta": etas}), 12, save_every=4)
    ds = res.dataset
    assert ds["mean"].dims == ("seed", "eta", "step")
    assert ds["x"].dims == ("seed", "eta", "step", "x_dim0")
    np.testing.assert_array_equal(ds.step.values, [0, 4, 8, 12])
    np.testing.assert_array_equal(ds.eta.values, etas)
    expected = (1 - np.asarray(etas))[:, None] ** ds.step.values[None, :]  # (E, T)
    np.testing.assert_allclose(ds["mean"].values, np.broadcast_to(expected, (3, 2, 4)),
                               rtol=1e-14)
    # (1-0.5)^12 = 2.4e-4 < 1e-3: converged; 0.9^12 = 0.28: not
    assert (ds.status.sel(eta=0.5) == RESULTS.converged).all()
    assert (ds.status.sel(eta=0.1) == RESULTS.max_steps_reached).all()
    assert ds.attrs["backend"] == jax.default_backend() and ds.attrs["ganflow_version"]
    assert "start_time" in ds.attrs and "end_time" in ds.attrs


def test_static_and_traced_axes_cases_and_divergence():
    sweep = Sweep(seeds=[4, 7], axes={"eta": [0.1, 0.2, 0.3], "mode": ["ok", "explode", "ok"]},
                  cases=True)
    assert [a.static for a in sweep.axes] == [False, True]
    res = run_ensemble(NoisyContraction(), sweep, 10, save_every=2, blowup=1e4)
    ds = res.dataset
    assert ds["mean"].dims == ("seed", "case", "step")
    assert list(ds["mode"].values) == ["ok", "explode", "ok"]
    np.testing.assert_array_equal(ds.seed.values, [4, 7])
    # explode: 10^k > 1e4 first at k = 5: frozen at 10^4, diverged_step 5
    exp = ds.isel(case=1)
    assert (exp.status == RESULTS.diverged).all() and (exp.diverged_step == 5).all()
    np.testing.assert_allclose(exp["mean"].values[:, -1], 1e4)
    ok = ds.isel(case=[0, 2])
    assert (ok.diverged_step == -1).all()
    np.testing.assert_allclose(ok["mean"].values[0, :, -1], [0.9**10, 0.7**10], rtol=1e-13)


def test_seed_path_is_a_function_of_its_key_alone_chunked_or_not():
    sweep = Sweep(seeds=5, axes={"eta": [0.1, 0.3], "sigma": [0.5, 1.0]})
    full = run_ensemble(NoisyContraction(), sweep, 20, save_every=5).dataset
    chunked = run_ensemble(NoisyContraction(), sweep, 20, save_every=5,
                           execution=Execution(chunk=2)).dataset
    np.testing.assert_array_equal(full["x"].values, chunked["x"].values)
    alone = run_ensemble(
        NoisyContraction(), Sweep(seeds=[3], axes={"eta": [0.3], "sigma": [1.0]}), 20,
        save_every=5,
    ).dataset
    np.testing.assert_array_equal(alone["x"].values[0, 0, 0], full["x"].values[3, 1, 1])
    # segments (any number of compiled calls) give the same numbers
    seg = run_ensemble(NoisyContraction(), sweep, 20, save_every=5,
                       execution=Execution(segment_saves=1)).dataset
    np.testing.assert_array_equal(full["x"].values, seg["x"].values)


def test_zarr_store_is_the_dataset_and_refuses_to_overwrite(tmp_path):
    sweep = Sweep(seeds=4, axes={"eta": [0.2, 0.4]})
    res = run_ensemble(NoisyContraction(), sweep, 8, save_every=2, folder=RunFolder(tmp_path),
                       config={"what": "test"})
    on_disk = xr.open_zarr(tmp_path / "results.zarr")
    for name in ("mean", "x", "status", "diverged_step"):
        np.testing.assert_array_equal(on_disk[name].values, res.dataset[name].values)
    assert json.loads(on_disk.attrs["config"]) == {"what": "test"}
    assert int(on_disk["completed_steps"]) == 8
    assert on_disk.status.attrs["flag_meanings"].split() == [r.name for r in RESULTS]
    with pytest.raises(ValueError, match="already holds results"):
        run_ensemble(NoisyContraction(), sweep, 8, save_every=2, folder=RunFolder(tmp_path))
    with pytest.raises(ValueError, match="different run.*num_steps"):
        run_ensemble(NoisyContraction(), sweep, 16, save_every=2,
                     folder=RunFolder(tmp_path, resume=True))
    # resuming a finished run returns its results
    again = run_ensemble(NoisyContraction(), sweep, 8, save_every=2,
                         folder=RunFolder(tmp_path, resume=True), config={"what": "test"})
    np.testing.assert_array_equal(again.dataset["x"].values, res.dataset["x"].values)
    new = run_ensemble(NoisyContraction(), sweep, 4, save_every=2,
                       folder=RunFolder(tmp_path, overwrite=True))
    assert new.dataset.sizes["step"] == 3


def test_bad_input_gets_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match="cannot write to the output folder"):
        run_ensemble(NoisyContraction(), Sweep(seeds=1, axes={"eta": [0.1]}), 2,
                     folder=RunFolder("/proc/ganflow-cannot-write"))
    with pytest.raises(ValueError, match="1-D"):
        Sweep(seeds=2, axes={"eta": [[0.1, 0.2]]})
    with pytest.raises(ValueError, match="mixed types"):
        Sweep(seeds=2, axes={"eta": [0.1, "a"]})
    with pytest.raises(ValueError, match="typed PRNG keys"):
        seed_keys(jax.random.key_data(jax.random.split(jax.random.key(0), 3)))
    with pytest.raises(ValueError, match="equal lengths"):
        Sweep(seeds=2, axes={"eta": [0.1, 0.2], "sigma": [1.0]}, cases=True)
    with pytest.raises(ValueError, match="must divide"):
        run_ensemble(NoisyContraction(), Sweep(seeds=1, axes={"eta": [0.1]}), 10, save_every=3)
    with pytest.raises(ValueError, match="reserved"):
        Sweep(seeds=1, axes={"step": [0.1]})
    with pytest.raises(ValueError, match="traced axis needs numeric"):
        Axis("eta", (True, False), static=False)


def test_run_folder_and_execution_check_their_fields(tmp_path):
    folder = RunFolder(tmp_path, group="main", checkpoint_every=4)
    assert folder.store == tmp_path / "results.zarr" / "main"
    assert folder.checkpoints == tmp_path / "checkpoints" / "main"
    for kwargs, message in [
        (dict(group="a/b"), "group must be a simple name"),
        (dict(resume="yes"), "resume must be True or False"),
        (dict(resume=True, overwrite=True), "exclude each other"),
        (dict(checkpoint_every=0), "checkpoint_every must be >= 1"),
        (dict(checkpoint_seconds=-1.0), "checkpoint_seconds must be > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            RunFolder(tmp_path, **kwargs)
    with pytest.raises(ValueError, match="path must be a directory"):
        RunFolder(None)
    for kwargs, message in [
        (dict(progress="on"), "progress must be True, False or None"),
        (dict(chunk=0), "chunk must be >= 1"),
        (dict(shard=1), "shard must be True, False or None"),
        (dict(segment_saves=1.5), "segment_saves must be an integer"),
        (dict(unroll=0), "unroll must be >= 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            Execution(**kwargs)
    sweep = Sweep(seeds=1, axes={"eta": [0.1]})
    with pytest.raises(ValueError, match="multiple of save_every"):
        run_ensemble(NoisyContraction(), sweep, 8, save_every=4,
                     folder=RunFolder(tmp_path, checkpoint_every=2))
    with pytest.raises(ValueError, match="folder must be a ganflow.engine.RunFolder"):
        run_ensemble(NoisyContraction(), sweep, 8, folder=str(tmp_path))


def test_engine_imports_nothing_else_of_ganflow():
    """The engine sits below every other subpackage: its modules import only each other and
    ganflow._checks, and it stamps the version of the package metadata (ganflow.__version__)."""
    import ast

    import ganflow
    from ganflow.engine._engine import _versions

    for path in sorted((ROOT / "ganflow" / "engine").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = "." * node.level + (node.module or "")
                assert node.level == 1 or target == ".._checks", f"{path.name}: {target}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [
                    n.name for n in node.names]
                assert not any(n and n.split(".")[0] == "ganflow" for n in names), path.name
    assert _versions()["ganflow_version"] == ganflow.__version__


def test_default_chunk_from_backend_and_memory():
    # CPU: about 2^17 float32 numbers per chunk
    assert default_chunk(4 * 1000, 1000, "cpu") == 131
    assert default_chunk(4, 10, "cpu") == 10
    # GPU: as many as fit in a quarter of the memory at 16x the state
    assert default_chunk(4 * 35_000, 1024, "gpu", memory_limit=140 * 2**30) == 1024
    assert default_chunk(4 * 35_000, 10**6, "gpu", memory_limit=2**30) == 2**30 // 4 // (
        16 * 4 * 35_000)


def test_progress_bar_reports_divergence(capsys):
    sweep = Sweep(seeds=2, axes={"eta": [0.1], "mode": ["explode"]})
    run_ensemble(NoisyContraction(), sweep, 20, save_every=5, blowup=1e3,
                 execution=Execution(progress=True))
    err = capsys.readouterr().err
    assert "diverged=2" in err and "20/20" in err


# ---------------------------------------------------------------------------------------------
# kill and resume

KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import jax
    jax.config.update("jax_enable_x64", True)
    from ganflow.engine import RunFolder, Sweep, run_ensemble
    from tests.engine_problems import MatrixWalk
    run_ensemble(MatrixWalk(), Sweep(seeds=4, axes={{"eta": [0.1, 0.2]}}), {steps}, save_every=2,
                 folder=RunFolder({out!r}, resume=True, checkpoint_every=4), config={{"k": 1}})
    """
)


def _sweep_and_steps():
    return Sweep(seeds=4, axes={"eta": [0.1, 0.2]}), 240


def test_sigkill_then_resume_is_bitwise_equal(tmp_path):
    sweep, steps = _sweep_and_steps()
    out = tmp_path / "run"
    script = KILL_SCRIPT.format(root=str(ROOT), steps=steps, out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    ckpts = out / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if ckpts.is_dir() and len(list(ckpts.glob("*.json"))) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = xr.open_zarr(out / "results.zarr")  # readable after the crash
    done = int(partial["completed_steps"])
    assert 0 < done < steps
    saved = partial["trace"].values
    assert np.isfinite(saved[..., : done // 2 + 1]).all()
    assert np.isnan(saved[..., done // 2 + 2:]).all()
    # corrupt the newest checkpoint: the previous one is used
    newest = sorted(ckpts.glob("*.eqx"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.warns(UserWarning, match="skipping checkpoint"):
        resumed = run_ensemble(MatrixWalk(), sweep, steps, save_every=2,
                               folder=RunFolder(out, resume=True, checkpoint_every=4),
                               config={"k": 1})
    # the uninterrupted reference runs the same segments (checkpoint_every / save_every saves)
    reference = run_ensemble(MatrixWalk(), sweep, steps, save_every=2,
                             execution=Execution(segment_saves=2), config={"k": 1})
    for name in ("trace", "norm", "status"):
        np.testing.assert_array_equal(resumed.dataset[name].values,
                                      reference.dataset[name].values)
    np.testing.assert_array_equal(np.asarray(resumed.final_state),
                                  np.asarray(reference.final_state))
    with pytest.raises(ValueError, match="different run.*config"):
        run_ensemble(MatrixWalk(), sweep, steps, save_every=2, config={"k": 2},
                     folder=RunFolder(out, resume=True, checkpoint_every=4))


# ---------------------------------------------------------------------------------------------
# two processes

DIST_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address="127.0.0.1:{port}", num_processes=2,
                               process_id=int(sys.argv[1]))
    assert jax.process_count() == 2 and jax.device_count() == 2
    from ganflow.engine import RunFolder, Sweep, run_ensemble
    from tests.engine_problems import NoisyContraction
    res = run_ensemble(NoisyContraction(), Sweep(seeds=5, axes={{"eta": [0.1, 0.3],
                       "sigma": [0.5]}}), 12, save_every=3,
                       folder=RunFolder({out!r}, checkpoint_every=6))
    print("PROCESS", jax.process_index(), res.dataset.sizes["seed"])
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_under_jax_distributed_equal_one(tmp_path):
    out = tmp_path / "dist"
    script = DIST_SCRIPT.format(root=str(ROOT), port=_free_port(), out=str(out))
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(2)]
    outs = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, e.decode()[-3000:]
        outs.append(o.decode())
    assert "PROCESS 0 5" in outs[0] and "PROCESS 1 5" in outs[1]
    merged = xr.open_zarr(out / "results.zarr")
    assert merged.attrs["process_count"] == 2
    single = run_ensemble(NoisyContraction(), Sweep(seeds=5, axes={"eta": [0.1, 0.3],
                          "sigma": [0.5]}), 12, save_every=3).dataset
    for name in ("x", "mean", "status", "diverged_step"):
        np.testing.assert_array_equal(merged[name].values, single[name].values)


def test_front_doors_pass_the_folder_and_execution_through(tmp_path):
    """training.run, run_grid, sgda_ensemble and sde_ensemble hand RunFolder and Execution to the
    engine unchanged: the results stream to the folder, a finished run is resumed as it is, and
    the layout changes no number."""
    import jax.numpy as jnp
    import optax

    import ganflow as gf

    game = gf.DiracGAN("gan")
    field = gf.stabilise(game, gf.R1(1.0), population=True)
    scheme = gf.training.SimultaneousGDA(field, optax.sgd(0.1))
    x0s = jax.vmap(game.init)(jax.random.split(jax.random.key(0), 3))
    folder = RunFolder(tmp_path / "run", checkpoint_every=4)
    x_star = game.equilibrium()
    sol = gf.training.run(scheme, x0s, 8, save_every=2, x_star=x_star, folder=folder)
    on_disk = xr.open_zarr(tmp_path / "run" / "results.zarr")
    np.testing.assert_array_equal(on_disk["distance"].values, np.asarray(sol.distances))
    again = gf.training.run(scheme, x0s, 8, save_every=2, x_star=x_star,
                            folder=RunFolder(tmp_path / "run", resume=True, checkpoint_every=4))
    np.testing.assert_array_equal(np.asarray(again.xs[0].theta), np.asarray(sol.xs[0].theta))
    make = lambda eta: gf.training.SimultaneousGDA(field, optax.sgd(eta))  # noqa: E731
    grid = gf.training.run_grid(make, jnp.asarray([0.1]), x0s, 8, save_every=2,
                                folder=RunFolder(tmp_path / "grid"),
                                execution=Execution(chunk=1))
    in_memory = gf.training.run_grid(make, jnp.asarray([0.1]), x0s, 8, save_every=2)
    np.testing.assert_array_equal(np.asarray(grid.xs[0].theta), np.asarray(in_memory.xs[0].theta))
    # a traced η against the constant 0.1 of `run`: the same maths, compiled as two programs
    # (XLA may fold the constant differently: within a few ulps)
    np.testing.assert_allclose(np.asarray(grid.xs[0].theta[0]), np.asarray(sol.xs[0].theta),
                               rtol=1e-14, atol=0)
    on_grid = xr.open_zarr(tmp_path / "grid" / "results.zarr")
    assert on_grid["theta.theta"].dims == ("seed", "eta", "step")
    assert "distance" not in on_grid  # no x_star: no distance
    keys = jax.random.split(jax.random.key(1), 3)
    sde = gf.continuous.SDE(field, gf.continuous.ConstantDiffusion(0.1))
    x0 = game.make_state(1.0, 0.5)
    one = gf.continuous.sde_ensemble(sde, x0, 0.0, 0.2, dt=0.01, keys=keys, save_every=5)
    two = gf.continuous.sde_ensemble(sde, x0, 0.0, 0.2, dt=0.01, keys=keys, save_every=5,
                                     folder=RunFolder(tmp_path / "sde"),
                                     execution=Execution(chunk=1, segment_saves=1))
    np.testing.assert_array_equal(np.asarray(one.xs[0].theta), np.asarray(two.xs[0].theta))
    assert "x.0.theta" in xr.open_zarr(tmp_path / "sde" / "results.zarr")  # x = (θ, ψ) by path
    a = gf.training.sgda_ensemble(game, x0, 0.1, 4, 6, keys, save_every=3)
    b = gf.training.sgda_ensemble(game, x0, 0.1, 4, 6, keys, save_every=3,
                                  folder=RunFolder(tmp_path / "sgda"),
                                  execution=Execution(chunk=1))
    np.testing.assert_array_equal(np.asarray(a.xs[0].theta), np.asarray(b.xs[0].theta))
    assert (tmp_path / "sgda" / "checkpoints").is_dir()


def test_seed_keys_one_convention_with_a_root_and_streams():
    """Seed s is key(s) without a root, fold_in(key(root), s) with one, fold_in(fold_in(
    key(root), stream), s) with a stream: a seed's key never depends on how many seeds run."""
    data = jax.random.key_data
    np.testing.assert_array_equal(data(seed_keys(3)), data(seed_keys([0, 1, 2])))
    root = jax.random.key(7)
    np.testing.assert_array_equal(data(seed_keys(2, root=7)),
                                  np.stack([data(jax.random.fold_in(root, i)) for i in (0, 1)]))
    base = jax.random.fold_in(root, 5)
    np.testing.assert_array_equal(data(seed_keys([4], root=7, stream=5))[0],
                                  data(jax.random.fold_in(base, 4)))
    np.testing.assert_array_equal(data(seed_keys(8, root=7))[:3], data(seed_keys(3, root=7)))
    assert len({tuple(k) for k in np.asarray(data(seed_keys(64, root=7)))}) == 64
    with pytest.raises(ValueError, match="a stream needs a root seed"):
        seed_keys(3, stream=1)
    with pytest.raises(ValueError, match="root must be a non-negative integer"):
        seed_keys(3, root=-1)
    with pytest.raises(ValueError, match="root and stream apply to integer seeds"):
        seed_keys(seed_keys(3), root=1)
