"""Writes the notebooks in `notebooks/` (without outputs) from the cells below.

Run `python scripts/make_notebooks.py` after editing; `tests/test_notebooks.py` executes every
notebook top to bottom with `GANFLOW_QUICK=1` (small step counts) and checks that the committed
files equal what this script writes.
"""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SETUP = """\
%matplotlib inline
import os

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np

import ganflow as gf
from ganflow import analysis, continuous, plotting, stabilisers, training

QUICK = os.environ.get("GANFLOW_QUICK") == "1"  # the test suite runs a smoke version"""


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip())


DIRAC = [
    md("""
# The Dirac-GAN

Mescheder et al. (2018): data δ₀, generator δ_θ, discriminator D(x) = ψx. With ganflow's f-family
convention (docs/conventions.md §The game) Φ(θ, ψ) = f(0) + f(−ψθ); the unique equilibrium is
(θ, ψ) = (0, 0). The field is b0 = (−∂_θΦ, +∂_ψΦ) and J = ∂b0/∂x its Jacobian (§The vector field
b0 and its Jacobian J): at 0 its eigenvalues are ±f′(0) i, a pure rotation, for every loss of the
f-family.
"""),
    code(SETUP),
    md("## The field and its Jacobian at the equilibrium"),
    code("""
for loss in ("gan", "nsgan", "wgan"):
    game = gf.DiracGAN(loss)
    b = game.vector_field(population=True)
    J = gf.jacobian(b, game.equilibrium())
    eigs = analysis.eigenvalues(b, game.equilibrium())
    f1 = float(game.loss.f_prime(0.0))
    print(f"{loss:6s} J =", np.asarray(J).tolist(), " eigenvalues:", np.round(np.asarray(eigs), 12),
          f" closed form: ±{f1:g}i")
    assert np.allclose(np.sort(np.asarray(eigs).imag), [-f1, f1], atol=1e-12)
"""),
    md("""
## Trajectories: gradient flow, simultaneous and alternating GD

The flow orbits (θ² + ψ² is conserved), simultaneous GD spirals out
(|λ(I + hJ)| = sqrt(1 + h²f′(0)²) > 1), alternating GD stays on a closed curve (its update
operator has eigenvalues on the unit circle).
"""),
    code("""
h = 0.1
steps = 400 if QUICK else 2000
game = gf.DiracGAN("wgan")
b = game.vector_field(population=True)
x_star = game.equilibrium()
x0 = game.make_state(0.3, 0.3)
flow = continuous.solve_ode(b, x0, 0.0, h * steps, ts=jnp.linspace(0.0, h * steps, steps + 1))
x0s = jax.tree_util.tree_map(lambda a: a[None], x0)
runs = {name: training.run(cls(b, h), x0s, steps, save_every=1, x_star=x_star)
        for name, cls in (("simultaneous GD", training.SimultaneousGDA),
                          ("alternating GD", training.AlternatingGDA))}
first = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)
radius = np.hypot(np.asarray(flow.xs[0].theta), np.asarray(flow.xs[1].psi))
print("flow: θ² + ψ² drifts by", float(np.ptp(radius**2)))
for name, sol in runs.items():
    d = np.asarray(sol.distances[0])
    print(f"{name}: distance to x* {d[0]:.3f} -> {d[-1]:.3f}")
trajectories = {"gradient flow": flow.xs, **{k: first(v.xs) for k, v in runs.items()}}
plotting.phase_plane(b, x_star, equilibrium=x_star, trajectories=trajectories,
                     labels=("θ", "ψ"), title=f"Dirac-GAN (WGAN), h = {h}")
"""),
    md("""
## Spectra of the update operators

Simultaneous GD: F′ = I + hJ. Alternating GD with n_d discriminator and n_g generator steps:
λ = 1 − α²/2 ± sqrt((1 − α²/2)² − 1) with α = sqrt(n_g n_d) h f′(0), on the unit circle for α < 2.
"""),
    code("""
game = gf.DiracGAN("gan")
b = game.vector_field(population=True)
x_star = game.equilibrium()
J = np.asarray(analysis.eigenvalues(b, x_star))
update = {}
for h, n_d in ((0.5, 1),) if QUICK else ((0.5, 1), (1.0, 2), (0.25, 5)):
    sim = analysis.update_stability(b, x_star, eta=h)
    alt = analysis.update_stability(b, x_star, eta=h, scheme="alternating", n_d=n_d)
    alpha = np.sqrt(n_d) * h * 0.5
    alt_closed = np.roots([1, -(2 - alpha**2), 1])
    print(f"h = {h}, n_d = {n_d}: ρ(sim) = {float(sim.radius):.6f} "
          f"(closed form {np.sqrt(1 + h**2 / 4):.6f}), "
          f"|λ(alt)| = {np.abs(np.asarray(alt.eigenvalues))} (closed form {np.abs(alt_closed)})")
    update[f"simultaneous, h = {h}"] = sim.eigenvalues
    update[f"alternating, h = {h}, n_d = {n_d}"] = alt.eigenvalues
plotting.spectra_figure({"J (GAN)": J}, update, title="Dirac-GAN (GAN loss)")
"""),
    md("""
## Stabilisers

R1 (γ) turns the rotation into a damped spiral: the eigenvalues of J become
−γ/2 ± sqrt(γ²/4 − f′(0)²) (Mescheder 2018), and GD converges for small h.
"""),
    code("""
game = gf.DiracGAN("gan")
x_star = game.equilibrium()
for gamma in (0.3, 1.0, 3.0):
    field = stabilisers.stabilise(game, stabilisers.R1(gamma), population=True)
    eigs = np.sort_complex(np.asarray(analysis.eigenvalues(field, x_star)))
    closed = np.sort_complex(-gamma / 2 + np.array([-1, 1]) * np.sqrt(complex(gamma**2 / 4 - 0.25)))
    print(f"R1 γ = {gamma}: {np.round(eigs, 10)}  closed form {np.round(closed, 10)}")
    assert np.allclose(eigs, closed, atol=1e-10)
field = stabilisers.stabilise(game, stabilisers.R1(1.0), population=True)
x0s = jax.tree_util.tree_map(lambda a: a[None], game.make_state(0.3, 0.3))
sol = training.run(training.SimultaneousGDA(field, 0.1), x0s, 200 if QUICK else 1000,
                   save_every=1, x_star=x_star, tol=1e-3)
print("R1 + simultaneous GD:", sol.status_names, "final distance", float(sol.final_distance[0]))
path = jax.tree_util.tree_map(lambda a: a[0], sol.xs)
plotting.phase_plane(field, x_star, equilibrium=x_star,
                     trajectories={"simultaneous GD, h = 0.1": path},
                     labels=("θ", "ψ"), title="Dirac-GAN with R1 (γ = 1)")
"""),
]

NK = [
    md("""
# The Nagarajan–Kolter two-parameter GAN

Nagarajan & Kolter (2017), §4 and Fig. 3: data and latent uniform on [−1, 1], D(x) = w₂x²,
G(z) = az; the equilibrium is (a, w₂) = (1, 0). With E x² = 1/3 and E x⁴ = 1/5 the Jacobian there is
J = [[0, 2f′(0)/3], [−2f′(0)/3, 2f″(0)/5]]: Hurwitz for the GAN (f″(0) = −1/4), a rotation for
the WGAN (f″(0) = 0). The GAN converges, the WGAN orbits; the NK gradient regulariser makes both
converge.
"""),
    code(SETUP),
    code("""
for loss, (f1, f2) in (("gan", (0.5, -0.25)), ("wgan", (1.0, 0.0))):
    game = gf.games.NagarajanKolter2D(loss)
    b = game.vector_field(population=True)
    J = np.asarray(gf.jacobian(b, game.equilibrium()))
    closed = np.array([[0, 2 * f1 / 3], [-2 * f1 / 3, 2 * f2 / 5]])
    eigs = np.asarray(analysis.eigenvalues(b, game.equilibrium()))
    print(f"{loss}: J = {np.round(J, 12).tolist()} (closed form {closed.tolist()}),"
          f" eigenvalues {np.round(eigs, 6)}, Hurwitz: {analysis.is_hurwitz(eigs)}")
    assert np.allclose(J, closed, atol=1e-12)
"""),
    md("## Phase planes (Fig. 3 of the paper): vanilla and with the NK regulariser"),
    code("""
h = 0.1
steps = 400 if QUICK else 3000
import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 2, figsize=(10, 10), layout="constrained")
for i, loss in enumerate(("gan", "wgan")):
    game = gf.games.NagarajanKolter2D(loss)
    x_star = game.equilibrium()
    x0s = jax.tree_util.tree_map(lambda a: a[None], game.make_state(1.3, 0.3))
    variants = (("vanilla", ()), ("NK λ = 0.5", (stabilisers.NagarajanKolter(0.5),)))
    for j, (name, stabs) in enumerate(variants):
        field = stabilisers.stabilise(game, *stabs, population=True)
        scheme = training.SimultaneousGDA(field, h)
        sol = training.run(scheme, x0s, steps, save_every=1, x_star=x_star)
        d = np.asarray(sol.distances[0])
        print(f"{loss}, {name}: distance {d[0]:.3f} -> {d[-1]:.2e}")
        path = jax.tree_util.tree_map(lambda a: a[0], sol.xs)
        plotting.phase_plane(field, x_star, equilibrium=x_star, ax=axes[i, j], labels=("a", "w₂"),
                             trajectories={f"simultaneous GD, h = {h}": path},
                             title=f"NK-2D {loss}, {name}")
"""),
    md("""
## Update operators

Simultaneous GD converges locally when ρ(I + hJ) < 1; for the GAN this holds for
h < 0.9 (|1 + hλ|² = 1 − h/10 + h²/9), for the WGAN never.
"""),
    code("""
for loss in ("gan", "wgan"):
    game = gf.games.NagarajanKolter2D(loss)
    b = game.vector_field(population=True)
    for h in (0.1, 0.5, 1.0):
        st = analysis.update_stability(b, game.equilibrium(), eta=h)
        stable = bool(st.locally_convergent)
        print(f"{loss} h = {h}: ρ = {float(st.radius):.6f}, converges locally: {stable}")
"""),
]

SDE = [
    md("""
# SDEs and weak-error orders (Cao–Guo 2020)

Minibatch GDA with learning rate η and batch B is approximated by dx = b dt + sqrt(η/B) Σ^{1/2} dW
(eqs. 9, 10). Here: an ensemble of the R1-regularised Dirac-GAN SDE, and the deterministic weak
orders of simultaneous and alternating GD (Theorems 1, 2; Remark 1).
"""),
    code(SETUP),
    md("""
## An ensemble of the R1-regularised Dirac-GAN SDE

WGAN loss, γ = 1: the field is linear, b(x) = Ax with A = [[0, 1], [−1, −γ]], so with additive
noise the mean is e^{tA} x₀ (the Dirac-GAN has no gradient noise; σ = sqrt(η/B) = 0.1 models it).
"""),
    code("""
game = gf.DiracGAN("wgan")
field = stabilisers.stabilise(game, stabilisers.R1(1.0), population=True)
seeds = 128 if QUICK else 4096
keys = jax.random.split(jax.random.key(0), seeds)
sde = continuous.SDE(field, continuous.ConstantDiffusion(0.1))
x0 = game.make_state(1.0, 1.0)
sol = continuous.sde_ensemble(sde, x0, 0.0, 5.0, dt=0.01, keys=keys, save_every=10)
ts = np.asarray(sol.ts)
paths = np.stack([np.asarray(sol.xs[0].theta), np.asarray(sol.xs[1].psi)], axis=-1)
A = jnp.array([[0.0, 1.0], [-1.0, -1.0]])
exact = np.asarray(jax.vmap(lambda t: jax.scipy.linalg.expm(t * A) @ jnp.ones(2))(jnp.asarray(ts)))
print("max |ensemble mean − e^{tA}x0| =", float(np.abs(paths.mean(axis=0) - exact).max()))
plotting.ensemble_plot(ts, paths, labels=["θ", "ψ"], reference=exact,
                       reference_label="e^(tA) x0", title=f"R1 Dirac-GAN SDE, {seeds} paths")
"""),
    md("""
## Deterministic weak-error orders

Full batch: simultaneous GD is order 1 against the gradient flow and order 2 against the modified
equation b − (η/2)Jb (eq. 13); alternating GD is order 2 against b + ηb₁ (eq. 10).
"""),
    code("""
game = gf.DiracGAN("gan")
field = stabilisers.stabilise(game, stabilisers.R1(1.0), population=True)
x0 = game.make_state(1.0, 1.0)
etas = 0.1 / 2.0 ** np.arange(3 if QUICK else 6)
results = {
    "simultaneous vs flow": analysis.deterministic_weak_error(
        lambda x, eta: analysis.simultaneous_update(field, x, eta=eta), field, x0, etas, 2.0),
    "alternating vs eq. 10": analysis.deterministic_weak_error(
        lambda x, eta: analysis.alternating_update(field, x, eta=eta), field, x0, etas, 2.0,
        modified="alternating"),
}
for name, res in results.items():
    print(f"{name}: slope {float(res.slope):.3f}, CI {np.round(np.asarray(res.ci), 3)}")
plotting.weak_error_plot(results, title="R1 Dirac-GAN, T = 2")
"""),
]

MEAN_FIELD = [
    md(r"""
# The solvable mean-field GAN (Wang, Hu & Lu 2019)

Survey §5.3.1. Data $y = Uc + \sqrt{η_T}\,a$ in dimension n (U: d orthonormal features,
$E cc^\top = Λ$), a linear generator $\tilde y = V\tilde c + \sqrt{η_G}\,\tilde a$, a one-layer
discriminator $D(y) = \hat D(y^\top w)$, trained by online SGD with steps τ/n (one fresh sample
per step). ganflow's setting (derived in the repository's docs/mean_field.md): $\hat D(x) = x^2/2$,
‖w‖ = ‖v_ℓ‖ = 1 after every step (the paper's strict regularisation), simultaneous updates.

The macroscopic state is $M = X^\top X$ for $X = [U, V, w]$: the overlaps $P = U^\top V$,
$q = U^\top w$, $r = V^\top w$, $S = V^\top V$. As n → ∞ with t = k/n it follows a deterministic ODE
(Theorem 1: $\max_k E\|M_k - M(k/n)\| ≤ C(T)/\sqrt n$). For d = 1, with
$ρ = λ(q^2 - r^2)$ and $κ = \tfrac{τ_D^2}{2}[η_T(λq^2 + η_T) + η_G(λr^2 + η_G)]$:

$$\dot P = τ_Gλ(qr - Pr^2),\quad \dot q = τ_D(λq - λPr - ρq) - κq,\quad
\dot r = τ_Gλ(1 - r^2)r + τ_D(λPq - λr - ρr) - κr.$$

κ, the diffusion of w on the sphere caused by the n-dimensional sample noise, is where the noise
strengths enter.
"""),
    code(SETUP),
    code("""
import matplotlib.pyplot as plt

from ganflow import meanfield as mf
"""),
    md(r"""
## One simulation against the ODE

`simulate` runs the microscopic model (one compiled scan, vmapped over seeds); `solve_mean_field`
integrates the ODE. Each seed's overlaps follow the ODE up to O(n^{-1/2}) fluctuations.
"""),
    code("""
n = 200 if QUICK else 2000
t_max = 20 if QUICK else 40
model = mf.MeanFieldGAN(n=n, strengths=[1.0], tau_g=0.5, tau_d=1.0, eta_t=0.7, eta_g=0.7,
                        dtype=jnp.float32)
ts, M = mf.simulate(model, None, seeds=2 if QUICK else 4, t_max=t_max)
ode = mf.solve_mean_field(model, None, t_max)
sim, ref = mf.macro_blocks(M), mf.macro_blocks(ode.xs)
fig, ax = plt.subplots(figsize=(7, 4))
for j, name in enumerate(("P", "q", "r")):
    ax.plot(ts, np.asarray(sim[name]).reshape(M.shape[0], -1).T, color=f"C{j}", lw=0.8, alpha=0.6)
    ax.plot(ode.ts, np.asarray(ref[name]).ravel(), "--", color=f"C{j}", lw=2, label=f"{name} (ODE)")
ax.set_xlabel("t = k/n")
ax.set_title(f"d = 1, n = {n}: simulated seeds (thin) and the ODE (dashed)")
ax.legend()
plt.show()
print("final P: simulation", np.round(np.asarray(sim["P"][:, -1]).ravel(), 3),
      " ODE", round(float(ref["P"][-1, 0, 0]), 3))
"""),
    md(r"""
## The drift is the expected increment

The ODE's right-hand side is the expectation of n·ΔM over one step's sample, to O(1/n). A Monte
Carlo average of independent one-step increments from one state checks it, Itô term κ included.
"""),
    code("""
model = mf.MeanFieldGAN(n=500, strengths=[1.0], M0=mf.macro_state([[0.5]], [0.4], [0.3]),
                        tau_g=0.5, tau_d=1.0, eta_t=0.8, eta_g=0.5)
state = model.init(jax.random.key(0))
M0 = model.observe(state)["M"]
K = 1024 if QUICK else 16384
keys = jax.random.split(jax.random.key(1), K)
one_step = jax.jit(jax.vmap(lambda k: model.observe(model.step(state, k, 0))["M"]))
inc = model.n * (one_step(keys) - M0)
mean, se = np.asarray(inc.mean(0)), np.asarray(inc.std(0)) / np.sqrt(K)
rhs = np.asarray(mf.mean_field_rhs(M0, model))
for name, (i, j) in (("P", (0, 1)), ("q", (0, 2)), ("r", (1, 2))):
    print(f"d{name}/dt: Monte Carlo {mean[i, j]:+.4f} ± {se[i, j]:.4f}   ODE {rhs[i, j]:+.4f}")
"""),
    md(r"""
## Concentration: the error falls as n^{-1/2}

$\max_k E\|M_k - M(k/n)\|_F$ over seeds for several n, and its log-log slope
(`ganflow.analysis.fit_order`). The experiment `ganflow run mean-field` does this for
n = 10²…10⁴ with 32 seeds (and up to 10⁵ with `--preset paper`).
"""),
    code("""
model = mf.MeanFieldGAN(n=100, strengths=[1.0], M0=mf.macro_state([[0.6]], [0.6], [0.4]),
                        tau_g=0.5, tau_d=1.0, eta_t=0.8, eta_g=0.8, dtype=jnp.float32)
ns = [50, 200] if QUICK else [100, 400, 1600]
conc = mf.concentration_error(model, ns, seeds=8 if QUICK else 16, t_max=2)
for n_, e, s in zip(ns, np.asarray(conc.errors), np.asarray(conc.stderrs)):
    print(f"n = {n_:5d}: error {e:.4f} ± {s:.4f}")
print(f"slope {float(conc.fit.slope):.3f} (95% CI {np.round(np.asarray(conc.fit.ci), 2)}); "
      "Theorem 1: -1/2")
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.errorbar(ns, conc.errors, yerr=conc.stderrs, fmt="o", capsize=3, label="simulation")
grid = np.geomspace(ns[0], ns[-1], 20)
ax.loglog(grid, np.exp(float(conc.fit.intercept)) * grid ** float(conc.fit.slope),
          label=f"fit, slope {float(conc.fit.slope):.2f}")
ax.set_xlabel("n")
ax.set_ylabel("max_k E‖M_k − M(k/n)‖")
ax.legend()
plt.show()
"""),
    md(r"""
## Phases: oscillation, success, mode collapse, failure

With s = η_T² + η_G², linearising the ODE at its equilibrium manifold q = r = 0
(docs/mean_field.md §7) gives, for d = 1: oscillation for s < τ_Gλ/τ_D² (noise too weak:
no point of the manifold is stable), failure for s > 2λ/τ_D (noise too strong: the feature is
never detected), success in between. `phase_diagram` classifies the ODE's trajectory and each
simulated seed's on the same grid ("tau" scales both learning rates, "eta" sets η_T = η_G).
"""),
    code("""
model = mf.MeanFieldGAN(n=100 if QUICK else 500, strengths=[1.0], tau_g=0.5, tau_d=1.0)
etas = [0.3, 0.7, 1.1] if QUICK else [0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
pd = mf.phase_diagram(model, {"tau": [1.0] if QUICK else [0.5, 1.0, 2.0], "eta": etas},
                      t_max=60 if QUICK else 150, seeds=1 if QUICK else 2)
print("ODE (S success, O oscillation, C mode collapse, F failure, P pursuit)")
print(pd.table("ode"))
print("simulation, one letter per seed")
print(pd.table("simulation"))
print("agreement", round(pd.agreement(), 2))
"""),
    md(r"""
## Two features: the weaker one is lost first

With Λ = diag(1, 0.7) the detection threshold of feature i is s < 2λ_i/τ_D: between the two
thresholds only the strong feature is learnt — mode collapse. The paper's conclusion: noise too
weak gives oscillation, too strong loses the features, the weaker first. (The survey's summary in
§5.3.1 states the two regimes the other way round; the ODE and the simulations side with the
paper — see the report of `ganflow run mean-field`.)
"""),
    code("""
model = mf.MeanFieldGAN(n=100, strengths=[1.0, 0.7], tau_g=0.5, tau_d=1.0)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), sharey=True)
for ax, eta in zip(axes, (0.35, 0.7, 0.9)):
    sol = mf.solve_mean_field(model, {"eta_t": eta, "eta_g": eta}, 150.0)
    best = np.asarray(mf.feature_overlaps(sol.xs))
    phase = mf.PHASES[int(mf.classify_phase(sol.xs))]
    for i in range(2):
        ax.plot(sol.ts, best[:, i], label=f"feature {i + 1} (λ = {[1.0, 0.7][i]})")
    ax.set_title(f"η_T = η_G = {eta}: {phase}")
    ax.set_xlabel("t")
axes[0].set_ylabel("max_ℓ |P_iℓ|")
axes[0].legend()
plt.show()
"""),
]

MOUNJID_GUO = [
    md("""
# Mounjid–Guo: convexity, explosion and the adaptive learning rate

Mounjid & Guo study GAN training as stochastic control. Three of their statements, checked with
ganflow (conventions: docs/conventions.md of the ganflow repository):

1. **§2** — the linear–quadratic Gaussian GAN (data N(m, σ²), generator θ₂z + θ₁, discriminator
   sigmoid(w₃x²/2 + w₂x + w₁)) has its optimum at θ* = (m, σ), w* = 0, and, the paper argues,
   non-optimal stationary points on θ₂ = 0.
2. **§3** — gradient descent on a quadratic (a/2)x² + bx explodes for η > 2/a.
3. **§4** — the per-layer adaptive rate (LSGD, eq. 20) trains a vanilla GAN better than SGD and
   is robust to the base rate.
"""),
    code(SETUP),
    md("## §2: the optimum, and the stationary points the paper claims"),
    code("""
game = gf.games.LinearQuadraticGaussian(m=3.0, sigma=1.0)
b = game.vector_field(population=True)
x_star = game.equilibrium()
print("|b0(x*)| =", float(jnp.linalg.norm(gf.ravel_state(b(x_star))[0])))
eigs = analysis.eigenvalues(b, x_star)
print("eigenvalues of J at x*:", np.round(np.asarray(eigs), 6))
r = gf.games.lq_degenerate_stationary_points(m=3.0, sigma=1.0)
print("finite-w root on θ₂ = 0 found by validated quadrature:", bool(r.finite_w_root_found))
print("fixed 20-node Gauss–Hermite claims one:", bool(r.hermite_converged),
      "(its true gradient norm there:", float(r.hermite_true_grad_norm), ")")
"""),
    code("""
plotting.eigenvalue_plane({"J at the optimum": eigs}, title="LQ-Gaussian GAN, m = 3: J at x*")
"""),
    md("""
The gradient along θ₂ = 0 never vanishes at finite w: the "non-optimal stationary points" of §2
exist only as ‖w‖ → ∞ (a fixed-node Gauss–Hermite rule misses the narrow sigmoid window and
reports a spurious root).

## §3: the learning rate against explosion

On f(x) = (a/2)x² + bx gradient descent moves e_n = x_n − x* by the factor (1 − ηa): the error
grows for η > 2/a and shrinks below. ganflow's training schemes, one step at a time, against the
closed form:
"""),
    code("""
a, b_lin = 4.0, 1.0
def phi(theta, omega):                    # a one-player game: the generator minimises f
    return 0.5 * a * theta**2 + b_lin * theta + 0.0 * omega
field = gf.vector_field(phi)
x0 = (jnp.asarray(1.0), jnp.asarray(0.0))
for factor in (0.9, 1.1):
    eta = factor * 2 / a
    scheme = training.SimultaneousGDA(field, eta)
    sol = training.run(scheme, jax.tree.map(lambda v: v[None], x0), 20, save_every=1)
    e = np.abs(np.asarray(sol.xs[0][0]) + b_lin / a)
    closed = abs(1 + b_lin / a) * abs(1 - eta * a) ** np.arange(21)
    print(f"eta = {factor} * 2/a: |e_20| = {e[-1]:.3e}, closed form {closed[-1]:.3e}")
    assert np.allclose(e, closed, rtol=1e-10)
"""),
    md("""
## §4: the adaptive rate (LSGD) against SGD

`training.mounjid_guo(η̄, u_max)` is SGD with the per-parameter-group adjustment of eq. 20,
u_i = ‖g_i‖² / (ḡ_iᵀ H_ii ḡ_i) ∧ u_max (one Hessian-vector product per group), as an optax
transformation that any ganflow scheme takes. On the LQ-Gaussian game, from a start near the
optimum, over 16 seeds and four base rates (one engine run each, vmapped over seeds):
"""),
    code("""
fast = gf.games.LinearQuadraticGaussian(m=3.0, sigma=1.0, quadrature="hermite", num_nodes=20)
bf = fast.vector_field(population=True)      # Gauss–Hermite is accurate near the optimum
key = jax.random.key(0)
x0s = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(key, (16,) + a.shape), x_star)
steps = 60 if QUICK else 1000
bases = jnp.array([1e-2, 5e-3, 1e-3, 5e-4])
final = {}
for name, make_opt in (("sgd", lambda eta: eta),
                       ("lsgd", lambda eta: training.mounjid_guo(eta, u_max=10.0))):
    # every base rate in one compilation: the engine's traced axis `eta`
    sol = training.run_grid(lambda eta: training.AlternatingGDA(bf, make_opt(eta)), bases, x0s,
                            steps, x_star=x_star)
    final[name] = np.asarray(sol.final_distance).mean(axis=1)
for i, base in enumerate(np.asarray(bases)):
    print(f"base rate {base:g}: ‖x − x*‖ after {steps} steps: SGD {final['sgd'][i]:.4f}, "
          f"LSGD {final['lsgd'][i]:.4f}")
"""),
    md("""
The neural study of §4 (an MLP GAN on N(3, 1); discriminator test accuracy and generator loss
for SGD against LSGD at base rates 1e-2 … 5e-4, the batch-size sweep of Fig. 5, and the §3 check
of η against 2/a per layer from Hessian-vector products) is the registered experiment
`mounjid-guo`: `ganflow run mounjid-guo --quick --out runs/mg` writes its labelled results
(`xarray.open_zarr("runs/mg/results.zarr/lr")`, variable `accuracy` with dims seed, optimizer, lr,
step), the figures and a report that says which of the paper's claims hold.
"""),
]


MODE_COLLAPSE = [
    md("""
# Mode collapse: mixtures of Gaussians and stacked digits

The papers' central empirical claims are about neural GANs: on a ring of 8 Gaussians vanilla
training collapses onto few modes while the Nagarajan–Kolter gradient penalty spreads over all of
them (Nagarajan–Kolter §4, Fig. 1); on stacked MNIST (1000 modes) GANs cover a fraction of the
modes (VEEGAN Table 2, PacGAN Table 2). This tour shows ganflow's pieces at a small size; the
registered experiments `mog`, `jacobian-spectra` and `stacked-digits` (`ganflow run NAME`) run
them over seeds and methods and report the tables.
"""),
    code(SETUP),
    md("""
## The metrics, on samples with known answers

A sample is of high quality within 3 std of its nearest mode; a mode is covered by at least one
high-quality sample; `kl_uniform` is KL(p̂ ‖ uniform) of the high-quality samples' histogram over
the modes (0: every mode equally; log K: all on one).
"""),
    code("""
ring = gf.MixtureOfGaussians("ring", width=16 if QUICK else 64, depth=1 if QUICK else 2,
                            latent_dim=8)
real = ring.sample_data(jax.random.key(0), 2000)
collapsed = ring.modes[:2][jax.random.randint(jax.random.key(1), (2000,), 0, 2)]
for name, s in (("data", real), ("two modes", collapsed)):
    m = ring.mode_metrics(s)
    print(f"{name:10s}", {k: round(float(v), 4) for k, v in m.items()})
print("log 8 - log 2 =", np.log(4))
"""),
    md("""
## Training: vanilla against the Nagarajan–Kolter penalty, over seeds

Alternating Adam steps (discriminator first), batches drawn inside the compiled loop from each
seed's key, 8 seeds vmapped through ganflow's ensemble engine (`training.run`); NK adds
λ‖∇_ω Φ‖² to the generator's loss.
"""),
    code("""
import optax

steps = 40 if QUICK else 4000
seeds = 2 if QUICK else 8
x0s = jax.vmap(ring.init)(jax.random.split(jax.random.key(2), seeds))
sampler = lambda k: ring.sample(k, 128)
methods = {
    "vanilla": ring.vector_field(),
    "nk (λ = 0.5)": stabilisers.stabilise(ring, stabilisers.NagarajanKolter(0.5)),
}
samples, table = [], []
for name, field in methods.items():
    scheme = training.AlternatingGDA(field, optax.adam(1e-3, b1=0.5), sampler)
    sol = training.run(scheme, x0s, steps, jax.random.key(3), save_every=steps // 4)
    per_save = []
    for t in range(sol.ts.shape[0]):
        thetas = jax.tree.map(lambda a: a[:, t], sol.xs[0])
        per_save.append(jax.vmap(lambda th, k: ring.generate(th, k, 500))(
            thetas, jax.random.split(jax.random.key(4), seeds)))
    gen = jnp.stack(per_save, 1)                         # (seeds, saves, n, 2)
    final = jax.vmap(ring.mode_metrics)(gen[:, -1])
    table.append((name, float(final["modes_covered"].mean()),
                  float(final["high_quality_fraction"].mean()), sol.status_names.count("diverged")))
    samples.append(gen[0])
for row in table:
    print("%-14s modes covered %.2f, high quality %.3f, diverged seeds %d" % row)
"""),
    code("""
plotting.mog_sample_grid(jnp.stack(samples), [int(t) for t in sol.ts], list(methods),
                         means=ring.modes)
"""),
    md("""
## Stacked digits: 1000 modes from scikit-learn's bundled 8×8 digits

Nothing is downloaded: three class-balanced digits side by side make an 8 × 24 image with label
100 d₁ + 10 d₂ + d₃; a classifier trained on the bundled training split labels each third.
"""),
    code("""
from ganflow import games

classifier, accuracy = games.train_digit_classifier(jax.random.key(0),
                                                    steps=300 if QUICK else 1000)
print(f"held-out accuracy of the digit classifier: {float(accuracy):.4f}")
digits = games.StackedDigits()
images, labels = digits.sample_stacked(jax.random.key(1), 4000 if QUICK else 26000)
one_mode = jnp.repeat(images[:1], images.shape[0], axis=0)
for name, imgs in (("real stacked samples", images), ("a collapsed generator", one_mode)):
    m = games.stacked_mode_metrics(classifier, imgs)
    print(f"{name}: {int(m.modes_covered)} of 1000 modes covered, "
          f"KL to uniform {float(m.kl_uniform):.3f}")
"""),
]


NOTEBOOK_CELLS = {
    "01_dirac_gan.ipynb": DIRAC,
    "02_nagarajan_kolter.ipynb": NK,
    "03_sde_and_weak_error.ipynb": SDE,
    "04_mounjid_guo.ipynb": MOUNJID_GUO,
    "05_mode_collapse.ipynb": MODE_COLLAPSE,
    "06_mean_field.ipynb": MEAN_FIELD,
}


def build(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=NOTEBOOK_CELLS[name])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives identical files
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    NOTEBOOKS.mkdir(exist_ok=True)
    for name in NOTEBOOK_CELLS:
        (NOTEBOOKS / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {NOTEBOOKS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
