r"""Mode collapse on mixtures of Gaussians with the papers' stabilisers side by side (`mog`), and
the Jacobian spectra of trained MoG GANs with and without consensus (`jacobian-spectra`).

`mog` reproduces Nagarajan–Kolter 2017 §4, Fig. 1 (their gradient penalty spreads over all 8
modes of the ring quickly, 10-step unrolling slowly, vanilla collapses) and places the other
stabilisers of ganflow beside it on the ring, the 5×5 grid and SGA's 4×4 grid, with the
VEEGAN / PacGAN mode metrics. `jacobian-spectra` reproduces the eigenvalue analysis of
Mescheder, Nowozin & Geiger 2017 ("The numerics of GANs", §3–4): the top eigenvalues of the
Jacobian J of the followed field and of the update operator at save points of training.

Every seed × method runs through the ensemble engine (methods as a static axis `method`, one
compilation each), so runs are labelled, resumable and bitwise reproducible.
"""

import dataclasses
import functools
import math
import warnings
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._checks import check_choice
from ..engine import RESULTS, AbstractProblem, Sweep, run_ensemble
from ..games import AbstractGANGame, MixtureOfGaussians, mode_metrics
from ..losses import AbstractLoss, get_loss
from ..models import MLP, Linear
from ..studies import Experiment, ReportPart, RunOptions, register, write_summary
from ..studies import markdown_table, save_columns

METHODS = (
    "vanilla",
    "nsgan",
    "nk",
    "unrolled",
    "consensus",
    "r1",
    "sga",
    "extragradient",
    "instance_noise",
    "roth",
)
_METHOD_TEXT = {
    "vanilla": "GAN, saturating loss (Goodfellow et al. 2014)",
    "nsgan": "GAN, non-saturating generator loss",
    "nk": "Nagarajan–Kolter gradient penalty on the generator (NK 2017 eq. 4)",
    "unrolled": "k-unrolled discriminator (Metz et al. 2017)",
    "consensus": "consensus optimisation (Mescheder et al. 2017)",
    "r1": "R1 penalty (Mescheder et al. 2018)",
    "sga": "symplectic gradient adjustment with alignment (Balduzzi et al. 2018)",
    "extragradient": "extragradient (extra-Adam / extra-RMSProp)",
    "instance_noise": "instance noise, sampled (Sønderby et al. 2017)",
    "roth": "noise-induced JS regulariser (Roth et al. 2017)",
}
_INITS = ("uniform", "orthogonal", "glorot", "truncated_normal")
_OPTIMIZERS = ("adam", "rmsprop", "sgd")
_DTYPES = ("float32", "float64")
_SALT_INIT, _SALT_EVAL, _SALT_NND = 0x494E, 0x4556, 0x4E4E

# ---------------------------------------------------------------------------------------------
# the players of the reference codes


class _ScaledInput(eqx.Module):
    """$x ↦ D(s\\,x)$: the discriminator of Nagarajan–Kolter's code reads x/4."""

    net: MLP
    scale: float = eqx.field(static=True)

    def __call__(self, x):
        return self.net(self.scale * x)


def _init_mlp(key, in_size, out_size, width, depth, init, gain, dtype) -> MLP:
    """`MLP.init` with the initialisation of a reference code:

    - `"uniform"`: ganflow's default, U(−1/√n_in, 1/√n_in) for weights and biases;
    - `"orthogonal"`: orthogonal weights times `gain`, zero biases (TF
      `orthogonal_initializer(gain)` with slim's zero biases: Nagarajan–Kolter, Metz et al.);
    - `"glorot"`: Glorot-uniform weights, zero biases (TF-slim's default: Mescheder et al.);
    - `"truncated_normal"`: N(0, 1/n_in) truncated at 2 std, zero biases (Sonnet's `Linear`:
      Balduzzi et al.).
    """
    net = MLP.init(key, in_size, out_size, width, depth, jax.nn.relu)
    if init == "uniform":
        return jax.tree_util.tree_map(lambda a: a.astype(dtype), net)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(net.layers))
    layers = []
    for k, layer in zip(keys, net.layers):
        out_n, in_n = layer.weight.shape
        if init == "orthogonal":
            w = gain * jax.nn.initializers.orthogonal()(k, (in_n, out_n), dtype).T
        elif init == "glorot":
            w = jax.nn.initializers.glorot_uniform()(k, (in_n, out_n), dtype).T
        else:
            w = jax.random.truncated_normal(k, -2.0, 2.0, (out_n, in_n), dtype) / math.sqrt(in_n)
        layers.append(Linear(w, jnp.zeros((out_n,))))
    net = MLP(layers, jax.nn.relu, None, scalar_out=out_size is None)
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), net)  # Linear casts to jax's default


class MoGNetsGame(AbstractGANGame):
    r"""A 2-D mixture of Gaussians (`ganflow.games.MixtureOfGaussians`: its modes, std, data
    sampler and metrics) played by ReLU MLPs of **separate** sizes, as in the public reference
    codes: generator $G(z)$, latent z ∼ N(0, I), `gen_depth` hidden layers of `gen_width`;
    discriminator $D(x) = \mathrm{MLP}(s\,x)$ with `disc_depth` × `disc_width` and input scale s
    (Nagarajan–Kolter: 1/4). `init` selects the reference code's initialisation (see
    `_init_mlp`). Samples and parameters are in `dtype` (float32 like the reference codes,
    whatever jax's default).

    Final; the objective is the f-family of `ganflow.games.AbstractGANGame` with `loss`.
    """

    mixture: MixtureOfGaussians
    loss: AbstractLoss
    gen_width: int = eqx.field(static=True)
    gen_depth: int = eqx.field(static=True)
    disc_width: int = eqx.field(static=True)
    disc_depth: int = eqx.field(static=True)
    input_scale: float = eqx.field(static=True)
    init_kind: str = eqx.field(static=True)
    init_gain: float = eqx.field(static=True)
    dtype: str = eqx.field(static=True)

    def __init__(self, kind="ring", loss="gan", latent_dim=8, gen_width=128, gen_depth=2,
                 disc_width=128, disc_depth=2, input_scale=1.0, init="uniform", init_gain=1.0,
                 dtype="float32", std=None):
        self.mixture = MixtureOfGaussians(kind, loss, latent_dim=latent_dim, std=std)
        self.loss = get_loss(loss)
        self.gen_width, self.gen_depth = int(gen_width), int(gen_depth)
        self.disc_width, self.disc_depth = int(disc_width), int(disc_depth)
        self.input_scale = float(input_scale)
        self.init_kind = check_choice("init", init, _INITS)
        self.init_gain = float(init_gain)
        self.dtype = check_choice("dtype", dtype, _DTYPES)

    @property
    def latent_dim(self) -> int:
        return self.mixture.latent_dim

    @property
    def modes(self):
        return self.mixture.modes.astype(self.dtype)

    @property
    def std(self) -> float:
        return self.mixture.std

    def init(self, key):
        kg, kd = jax.random.split(key)
        gen = _init_mlp(kg, self.latent_dim, 2, self.gen_width, self.gen_depth, self.init_kind,
                        self.init_gain, self.dtype)
        disc = _init_mlp(kd, 2, None, self.disc_width, self.disc_depth, self.init_kind,
                         self.init_gain, self.dtype)
        return gen, _ScaledInput(disc, self.input_scale)

    def sample_data(self, key, n):
        return self.mixture.sample_data(key, n).astype(self.dtype)

    def sample_latent(self, key, n):
        return jax.random.normal(key, (n, self.latent_dim), self.dtype)

    def generate(self, theta, key, n: int):
        """n samples G_θ(z)."""
        return jax.vmap(theta)(self.sample_latent(key, n))

    def num_params(self) -> int:
        x = jax.eval_shape(self.init, jax.random.key(0))
        return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(x))


# ---------------------------------------------------------------------------------------------
# methods


@functools.lru_cache(maxsize=64)
def make_optimizer(name: str, learning_rate: float, beta1: float = 0.5):
    """The players' optimiser as in the reference codes: `"adam"` (Keras/TF Adam, β2 0.999,
    ε 1e-8), `"rmsprop"` (TF1 `RMSPropOptimizer`: decay 0.9, ε 1e-10 inside the root, mean
    square initialised to 1) or `"sgd"`."""
    check_choice("optimizer", name, _OPTIMIZERS)
    if name == "adam":
        return optax.adam(learning_rate, b1=beta1, b2=0.999, eps=1e-8)
    if name == "rmsprop":
        return optax.rmsprop(learning_rate, decay=0.9, eps=1e-10, initial_scale=1.0)
    return optax.sgd(learning_rate)


def make_game(cfg: Any, method: str = "nk") -> MoGNetsGame:
    """The game of `cfg` for `method`: `vanilla` plays the saturating GAN, `nsgan` the
    non-saturating one, every stabiliser the config's base `loss`."""
    loss = {"vanilla": "gan", "nsgan": "nsgan"}.get(method, cfg.loss)
    return MoGNetsGame(cfg.kind, loss, cfg.latent_dim, cfg.gen_width, cfg.gen_depth,
                       cfg.disc_width, cfg.disc_depth, cfg.input_scale, cfg.init, cfg.init_gain,
                       cfg.dtype)


def make_scheme(method: str, cfg: Any, game: MoGNetsGame):
    r"""The training scheme of `method` (one of `METHODS`) with the config's settings; every
    player step draws a fresh minibatch of `cfg.batch_size` (Cao–Guo eq. 6).

    | method | field / scheme |
    |---|---|
    | vanilla, nsgan | b0, `cfg.scheme` (alternating D then G, or simultaneous) |
    | nk | `NagarajanKolter(lam_nk)`: the generator descends $L_G + λ\|∇_ω Φ\|^2$, `cfg.scheme` |
    | r1, instance_noise, roth | `R1`, `InstanceNoise` (sampled), `Roth`; `cfg.scheme` |
    | consensus | $b - γJ^\top b$ (`Consensus(gamma_consensus)`), simultaneous (Mescheder 2017) |
    | sga | `SGA(lam_sga, align=sga_align)`, simultaneous (Balduzzi 2018) |
    | unrolled | `Unrolled(k=unroll_k, unroll_lr)`, simultaneous |
    | extragradient | b0, `Extragradient` |
    """
    from .. import stabilisers as st, training as tr

    check_choice("method", method, METHODS)
    opt = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.beta1)
    sampler = _Sampler(game, int(cfg.batch_size))

    def plain(field):
        if cfg.scheme == "alternating":
            return tr.AlternatingGDA(field, opt, sampler)
        return tr.SimultaneousGDA(field, opt, sampler)

    if method in ("vanilla", "nsgan"):
        return plain(game.vector_field())
    if method == "nk":
        return plain(st.stabilise(game, st.NagarajanKolter(cfg.lam_nk)))
    if method == "r1":
        return plain(st.stabilise(game, st.R1(cfg.gamma_r1)))
    if method == "instance_noise":
        return plain(st.stabilise(game, st.InstanceNoise(cfg.sigma_noise, mode="sampled")))
    if method == "roth":
        return plain(st.stabilise(game, st.Roth(cfg.gamma_roth)))
    if method == "consensus":
        return tr.SimultaneousGDA(st.stabilise(game, st.Consensus(cfg.gamma_consensus)), opt,
                                  sampler)
    if method == "sga":
        return tr.SimultaneousGDA(st.stabilise(game, st.SGA(cfg.lam_sga, align=cfg.sga_align)),
                                  opt, sampler)
    if method == "unrolled":
        return tr.Unrolled(game.objective(), k=cfg.unroll_k, unroll_lr=cfg.unroll_lr,
                           optimizer=opt, sampler=sampler)
    return tr.Extragradient(game.vector_field(), opt, sampler)


class _Sampler(eqx.Module):
    """`key ↦ game.sample(key, batch_size)` (a Module, so equal settings compare equal)."""

    game: MoGNetsGame
    batch_size: int = eqx.field(static=True)

    def __call__(self, key):
        return self.game.sample(key, self.batch_size)


class MoGMember(AbstractProblem):
    r"""One seed of one method as an ensemble member: the state is (TrainState, the seed's key
    data); step t draws its batches from `fold_in(seed_key, t)`; every save point observes the
    mode metrics of `num_eval` fresh generator samples (`ganflow.games.mode_metrics`:
    `modes_covered`, `high_quality_fraction`, `kl_uniform`) and keeps the first `num_keep` of
    them (`samples`, for figures and the neural-net distance). The evaluation latents come
    from (seed key, step): the same across methods (common random numbers)."""

    game: MoGNetsGame
    scheme: Any
    num_eval: int = eqx.field(static=True)
    num_keep: int = eqx.field(static=True)
    vectorised = False

    def init(self, key, params):
        x0 = self.game.init(jax.random.fold_in(key, _SALT_INIT))
        return self.scheme.init(x0), jax.random.key_data(key)

    def step(self, state, key, t, params):
        train, kd = state
        return self.scheme.step(train, key), kd

    def observe(self, state, params):
        train, kd = state
        key = jax.random.fold_in(jax.random.fold_in(jax.random.wrap_key_data(kd), _SALT_EVAL),
                                 train.step)
        samples = self.game.generate(train.x[0], key, self.num_eval)
        out = dict(mode_metrics(samples, self.game.modes, self.game.std))
        out["samples"] = samples[: self.num_keep]
        return out

    def finite_part(self, state):
        return state[0].x


# ---------------------------------------------------------------------------------------------
# `mog`: the experiment

# Literature figures for scale (different setups): (modes, high-quality %, reverse KL or None)
LITERATURE = {
    "ring": [
        ("VEEGAN Table 1: GAN", 1.0, 99.3, None),
        ("VEEGAN Table 1: unrolled GAN", 7.6, 35.6, None),
        ("PacGAN Table 1: GAN", 6.3, 98.2, 0.45),
    ],
    "grid": [
        ("VEEGAN Table 1: GAN", 3.3, 0.5, None),
        ("VEEGAN Table 1: unrolled GAN", 23.6, 16.0, None),
        ("PacGAN Table 1: GAN", 17.3, 94.8, 0.70),
    ],
    "grid16": [],
}


def _check_in(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _check_pos(cfg, *names, zero=False):
    for n in names:
        v = getattr(cfg, n)
        if not (v >= 0 if zero else v > 0) or (isinstance(v, float) and math.isnan(v)):
            raise ValueError(f"{n} must be {'>= 0' if zero else '> 0'}, got {v!r}")


@dataclasses.dataclass(frozen=True)
class MoGConfig:
    """Mode collapse on a 2-D mixture of Gaussians, every method of ganflow side by side
    (Nagarajan–Kolter 2017 §4, Fig. 1; mode metrics of VEEGAN, Srivastava et al. 2017, Table 1,
    and PacGAN, Lin et al. 2018, Table 1). The default is a fast CPU setting (NK's architecture
    at half width, 16 latent dimensions, Adam 1e-3, 3000 steps); the presets `nk`, `consensus`
    and `sga` are the public reference codes' settings: `nk` Nagarajan–Kolter's
    (locuslab/gradient_regularized_gan: generator 2×128 ReLU, discriminator 1×128 ReLU on x/4,
    latent 256, orthogonal init with gain 0.8, batch 512, Adam 1e-4 β1 = 0.5, alternating D then
    G, saturating loss, λ = 0.5 on the generator), `consensus` Mescheder et al.'s
    (LMescheder/TheNumericsOfGANs, notebook mog-eigval-dist: 4×16 ReLU both players, latent 16,
    batch 512, RMSProp 1e-4, simultaneous, non-saturating, γ = 10; their ring has radius 1,
    ours 2), `sga` Balduzzi et al.'s (deepmind/symplectic-gradient-adjustment: 4×4 grid, 6×384
    ReLU both players, latent 64, batch 256, RMSProp 1e-4, simultaneous, non-saturating,
    λ = 1 with alignment). Writes the group `mog` (dims seed, method, step: `modes_covered`,
    `high_quality_fraction`, `kl_uniform`, `samples`) and the summary `mog_final` (the
    neural-net distance of the final samples per seed and method, and the data-vs-data floor).

    - `kind`: ring (8 modes, radius 2, std 0.02), grid (25, std 0.05) or grid16 (SGA's 4×4)
    - `methods`: any of vanilla nsgan nk unrolled consensus r1 sga extragradient instance_noise roth
    - `seeds`: number of seeds (per method)
    - `seed`: root PRNG seed (seed keys are fold_in(key(seed), i))
    - `num_steps`: training steps (one step = one discriminator and one generator update)
    - `save_every`: steps between save points (metrics at every one)
    - `batch_size`: minibatch size of every player step
    - `latent_dim`: generator latent dimension (z ~ N(0, I))
    - `gen_width`: generator hidden width
    - `gen_depth`: generator hidden layers
    - `disc_width`: discriminator hidden width
    - `disc_depth`: discriminator hidden layers
    - `input_scale`: the discriminator reads input_scale * x (NK's code: 0.25)
    - `init`: uniform (ganflow), orthogonal (NK), glorot (Mescheder), truncated_normal (SGA)
    - `init_gain`: gain of the orthogonal initialisation
    - `loss`: base loss of the stabilised methods, gan (saturating) or nsgan; vanilla is always gan
    - `scheme`: alternating (D then G) or simultaneous: vanilla, nsgan, nk, r1, instance_noise, roth
    - `optimizer`: adam, rmsprop or sgd (both players)
    - `learning_rate`: both players' learning rate
    - `beta1`: Adam's beta1
    - `lam_nk`: Nagarajan–Kolter's lambda (generator penalty weight)
    - `unroll_k`: unrolling steps of the unrolled GAN
    - `unroll_lr`: SGD rate of the unrolled discriminator steps
    - `gamma_consensus`: consensus weight gamma
    - `gamma_r1`: R1 weight gamma
    - `lam_sga`: SGA's lambda
    - `sga_align`: SGA's alignment rule for the sign of lambda
    - `sigma_noise`: instance-noise standard deviation
    - `gamma_roth`: Roth et al.'s regulariser weight gamma
    - `num_eval_samples`: generator samples per save point for the metrics (PacGAN: 2500)
    - `num_kept_samples`: samples kept per save point (figure, neural-net distance)
    - `nnd_restarts`: restarts of the neural-net distance at the final point (0: skip it)
    - `nnd_steps`: Adam steps per restart of the neural-net distance
    - `dtype`: float32 (as the reference codes) or float64
    """

    kind: str = "ring"
    methods: tuple[str, ...] = METHODS
    seeds: int = 16
    seed: int = 0
    num_steps: int = 3000
    save_every: int = 250
    batch_size: int = 256
    latent_dim: int = 16
    gen_width: int = 64
    gen_depth: int = 2
    disc_width: int = 64
    disc_depth: int = 1
    input_scale: float = 0.25
    init: str = "orthogonal"
    init_gain: float = 0.8
    loss: str = "gan"
    scheme: str = "alternating"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    beta1: float = 0.5
    lam_nk: float = 0.5
    unroll_k: int = 10
    unroll_lr: float = 1e-2
    gamma_consensus: float = 10.0
    gamma_r1: float = 1.0
    lam_sga: float = 1.0
    sga_align: bool = True
    sigma_noise: float = 0.1
    gamma_roth: float = 1.0
    num_eval_samples: int = 2500
    num_kept_samples: int = 512
    nnd_restarts: int = 4
    nnd_steps: int = 200
    dtype: str = "float32"

    def __post_init__(self):
        _check_in("kind", self.kind, ("ring", "grid", "grid16"))
        if not self.methods:
            raise ValueError("methods must name at least one method")
        for m in self.methods:
            _check_in("method", m, METHODS)
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods are repeated: {self.methods}")
        for n in ("seeds", "num_steps", "save_every", "batch_size", "latent_dim", "gen_width",
                  "disc_width", "num_eval_samples", "num_kept_samples", "nnd_steps"):
            if getattr(self, n) < 1:
                raise ValueError(f"{n} must be >= 1, got {getattr(self, n)}")
        for n in ("gen_depth", "disc_depth", "unroll_k", "nnd_restarts", "seed"):
            if getattr(self, n) < 0:
                raise ValueError(f"{n} must be >= 0, got {getattr(self, n)}")
        if self.num_steps % self.save_every:
            raise ValueError(f"save_every={self.save_every} must divide "
                             f"num_steps={self.num_steps}")
        if self.num_kept_samples > self.num_eval_samples:
            raise ValueError("num_kept_samples must be <= num_eval_samples")
        _check_pos(self, "input_scale", "init_gain", "learning_rate", "unroll_lr")
        _check_pos(self, "lam_nk", "gamma_consensus", "gamma_r1", "lam_sga", "sigma_noise",
                   "gamma_roth", zero=True)
        if not 0.0 <= self.beta1 < 1.0:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        _check_in("init", self.init, _INITS)
        _check_in("loss", self.loss, ("gan", "nsgan"))
        _check_in("scheme", self.scheme, ("alternating", "simultaneous"))
        _check_in("optimizer", self.optimizer, _OPTIMIZERS)
        _check_in("dtype", self.dtype, _DTYPES)


MOG_PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(seeds=2, num_steps=200, save_every=50, batch_size=64, latent_dim=4,
                  gen_width=16, disc_width=16, unroll_k=2, num_eval_samples=500,
                  num_kept_samples=128, nnd_restarts=2, nnd_steps=50),
    "nk": dict(num_steps=25000, save_every=1000, batch_size=512, latent_dim=256,
               gen_width=128, gen_depth=2, disc_width=128, disc_depth=1, input_scale=0.25,
               init="orthogonal", init_gain=0.8, loss="gan", scheme="alternating",
               optimizer="adam", learning_rate=1e-4, beta1=0.5, lam_nk=0.5),
    "consensus": dict(num_steps=50000, save_every=2000, batch_size=512, latent_dim=16,
                      gen_width=16, gen_depth=4, disc_width=16, disc_depth=4, input_scale=1.0,
                      init="glorot", loss="nsgan", scheme="simultaneous", optimizer="rmsprop",
                      learning_rate=1e-4, gamma_consensus=10.0),
    "sga": dict(kind="grid16", num_steps=10000, save_every=500, batch_size=256,
                latent_dim=64, gen_width=384, gen_depth=6, disc_width=384, disc_depth=6,
                input_scale=1.0, init="truncated_normal", loss="nsgan",
                scheme="simultaneous", optimizer="rmsprop", learning_rate=1e-4, lam_sga=1.0,
                sga_align=True),
}

# the settings of the first attempt (ganflow's default MixtureOfGaussians players)
MOG_PRESETS["issue"] = dict(methods=("vanilla", "nk", "r1"), seeds=8, num_steps=4000,
                            save_every=500, batch_size=256, latent_dim=8, gen_width=128,
                            gen_depth=2, disc_width=128, disc_depth=2, input_scale=1.0,
                            init="uniform", loss="gan", scheme="alternating", optimizer="adam",
                            learning_rate=1e-3, beta1=0.5, lam_nk=0.5, gamma_r1=1.0)


def seed_keys_of(seed: int, seeds: int):
    """The seed keys of a config: `fold_in(key(seed), i)`, i < seeds."""
    root = jax.random.key(int(seed))
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(int(seeds)))


def mog_problems(cfg: MoGConfig):
    """`make(method) -> MoGMember` for the engine's static axis `method`. Members are cached
    per (method, training settings): a method run again with the same settings (in another
    sweep, a resume, a test) is the same object and reuses its compilation."""
    key = dataclasses.replace(cfg, methods=METHODS, seeds=1, seed=0, num_steps=1,
                              save_every=1, nnd_restarts=0, nnd_steps=1)
    return functools.partial(_member, key=key)


@functools.lru_cache(maxsize=64)
def _member(method: str, key: "MoGConfig") -> "MoGMember":
    game = make_game(key, method)
    return MoGMember(game, make_scheme(method, key, game), key.num_eval_samples,
                     key.num_kept_samples)


def _checkpoint_every(num_steps: int, save_every: int) -> int:
    saves = num_steps // save_every
    return save_every * max(1, math.ceil(saves / 8))


def final_nn_distance(cfg: MoGConfig, samples: np.ndarray) -> dict[str, np.ndarray]:
    r"""The neural-net distance (Arora et al. 2017; `ganflow.analysis.neural_net_distance`, WGAN
    form with a weight-clipped 2×32 ReLU discriminator) between the kept generator samples of
    each seed and method (`samples`: (seed, method, n, 2)) and as many fresh data samples, and
    the floor d(data, data′) of two independent data sets of that size per seed. Returns arrays
    `nn_distance`, `nn_distance_se` (seed, method) and `nn_distance_floor` (seed,)."""
    from ..analysis import neural_net_distance

    game = make_game(cfg)
    n = samples.shape[-2]
    keys = seed_keys_of(cfg.seed, samples.shape[0])
    kw = dict(num_restarts=cfg.nnd_restarts, num_steps=cfg.nnd_steps, batch_size=min(n, 256))

    def per_seed(key, fakes):
        k_real, k_fit, k_floor = jax.random.split(jax.random.fold_in(key, _SALT_NND), 3)
        real = game.sample_data(k_real, n)
        other = game.sample_data(k_floor, n)
        est = jax.vmap(lambda f: neural_net_distance(k_fit, real, f, **kw))(fakes)
        floor = neural_net_distance(k_fit, real, other, **kw)
        return est.distance, est.stderr, floor.distance

    d, se, floor = jax.jit(jax.vmap(per_seed))(keys, jnp.asarray(samples, game.dtype))
    return {"nn_distance": np.asarray(d), "nn_distance_se": np.asarray(se),
            "nn_distance_floor": np.asarray(floor)}


def run_mog(cfg: MoGConfig, out: Path, options: RunOptions | None = None) -> None:
    """Runs every method × seed through the engine (group `mog`), then the neural-net distance
    of the final samples (summary `mog_final`)."""
    import xarray as xr

    from ..engine import Axis

    options = RunOptions() if options is None else options
    sweep = Sweep(seeds=seed_keys_of(cfg.seed, cfg.seeds),
                  axes=[Axis("method", tuple(cfg.methods), static=True)])
    res = run_ensemble(
        mog_problems(cfg), sweep, cfg.num_steps, save_every=cfg.save_every, out=out,
        group="mog", resume=options.resume, progress=options.progress,
        config=dataclasses.asdict(cfg),
        checkpoint_every=_checkpoint_every(cfg.num_steps, cfg.save_every),
        checkpoint_seconds=120.0, keep_final=False, name="mog",
    )
    if cfg.nnd_restarts < 1:
        return
    samples = np.asarray(res.dataset["samples"].isel(step=-1).values)  # (seed, method, n, 2)
    nnd = final_nn_distance(cfg, samples)
    ds = xr.Dataset(
        {
            "nn_distance": (("seed", "method"), nnd["nn_distance"]),
            "nn_distance_se": (("seed", "method"), nnd["nn_distance_se"]),
            "nn_distance_floor": (("seed",), nnd["nn_distance_floor"]),
        },
        coords={"seed": np.arange(cfg.seeds), "method": list(cfg.methods),
                "step": int(cfg.num_steps)},
        attrs={"what": "neural-net distance (Arora et al. 2017, WGAN form, clipped 2x32 ReLU "
                       "discriminator) between the final kept samples and fresh data; floor: "
                       "between two fresh data sets of the same size"},
    )
    write_summary(out, "mog_final", ds)


# ---------------------------------------------------------------------------------------------
# `mog`: the report


def _mean_se(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over `axis`, NaNs ignored (NaN when no finite value)."""
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a)
    n = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(np.where(ok, a, 0.0), axis=axis) / np.maximum(n, 1),
                        np.nan)
        dev = np.where(ok, a - np.expand_dims(mean, axis), 0.0)
        var = np.sum(dev**2, axis=axis) / np.maximum(n - 1, 1)
        se = np.where(n > 1, np.sqrt(var / np.maximum(n, 1)), np.nan)
    return mean, se


def _pm(mean: float, se: float, digits: int = 2, scale: float = 1.0) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(se):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * se:.{digits}f}"


def headline(modes: np.ndarray, steps: np.ndarray, methods: list[str], num_modes: int,
             fraction: float = 0.9) -> dict[str, Any]:
    r"""The headline of Nagarajan–Kolter §4 / Fig. 1 from the modes covered (seed, method,
    step):

    - `t_nk`, `t_unrolled`, `t_vanilla`: the first save step at which ≥ `fraction` of the seeds
      cover all `num_modes` modes (None: never);
    - `budget`: the first save step with NK at ≥ `fraction` full coverage **and** vanilla's
      mean modes below NK's mean (None: none), with the three means there;
    - `holds_budget`: such a budget exists; `holds_faster`: NK reaches full coverage in ≥
      `fraction` of the seeds strictly earlier than unrolled (or unrolled never does);
    - `holds`: both.
    """
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


_FINDING = """\
**The issue's first attempt (NK with λ = 0.5 covering 0 modes with ganflow's default players)
failed because of the settings, not a defect in ganflow.** ganflow's test suite checks that its
`NagarajanKolter` field equals the hand-derived closed form on the Dirac-GAN at generic points
(the generator descends Φ + λ(∂_ψΦ)², double backprop included), that its Jacobian at the
equilibrium is NK's block matrix [[J_DD, J_DG], [−J_DGᵀ(I + 2λJ_DD), −2λJ_DGᵀJ_DG]], and that on
a small MoG game the discriminator's field is untouched while the generator's gains
−λ∇_θ‖∇_ωΦ‖² (finite differences): sign, penalised player and double backprop are right.

The setting that matters is the discriminator. Modes covered after 2000 alternating steps
(Adam 1e-3, β1 0.5, batch 256, 4 seeds, NK λ = 0.5 unless stated): ganflow's default players
(discriminator 2×128 ReLU on raw x, latent 8) 0 (vanilla: 8.0); the same with x/4 only 0;
latent 256 only 0; λ = 0.05 2.75 (7.25 at step 500, then decaying); Adam 1e-4 7.0 at step 3000
but 3.0 at 4000 (the same breakdown, 10× slower); discriminator 1×128 on raw x 7.25 (vanilla:
0.25); NK's players (discriminator 1×128 on x/4, latent 256, orthogonal init) 7.5 (vanilla:
0.5). So neither the 10× learning rate, nor the missing x/4, nor the latent size is the cause:
the two-hidden-layer discriminator is.

Why: the penalty ‖∇_ωΦ‖² vanishes not only at the equilibrium but also where the
discriminator saturates (D → 1 on data, D ∘ G → 0 on samples: f′ → 0 on both terms of the
saturating loss). With the default players, by step 600 the penalty's θ-gradient is larger than
∇_θΦ and opposite to it (0.40 vs 0.33, cosine −0.95): the generator effectively climbs Φ,
its samples move away (mean |G(z)| 0.25 → 8.1, the ring has radius 2), the discriminator
separates perfectly (Φ on a batch −1.44 → −1e-4 by step 1000) and both gradients vanish
(|∇_θΦ| ≈ 1e-5, penalty ≈ 1e-6): training is stuck in the saturated region. With a
one-hidden-layer discriminator Φ stays between −1.0 and −1.3 and the samples stay on the ring
(mean |G(z)| ≈ 1.9–2.0). NK's Theorem 3.2 is local (near an equilibrium); it does not exclude
this global failure of the penalty with a discriminator able to saturate."""


def report_mog(cfg: MoGConfig, results: dict[str, Any], out: Path) -> ReportPart:
    """Tables (mean ± s.e. over seeds per method, literature beside), the headline check, the
    sample grid and the modes-over-training figure, from the saved results only."""
    ds = results["mog"]
    methods = [str(m) for m in ds["method"].values]
    steps = np.asarray(ds["step"].values)
    modes = np.asarray(ds["modes_covered"].values, dtype=float)  # (seed, method, step)
    hq = np.asarray(ds["high_quality_fraction"].values, dtype=float)
    kl = np.asarray(ds["kl_uniform"].values, dtype=float)
    status = np.asarray(ds["status"].values)
    num_modes = int(MixtureOfGaussians(cfg.kind).modes.shape[0])
    final = results.get("mog_final")

    lines = [
        f"Mixture **{cfg.kind}** ({num_modes} modes), {cfg.seeds} seeds per method, "
        f"{cfg.num_steps} steps (one discriminator and one generator update each), batch "
        f"{cfg.batch_size}; generator {cfg.gen_depth}×{cfg.gen_width} ReLU (latent "
        f"{cfg.latent_dim}), discriminator {cfg.disc_depth}×{cfg.disc_width} ReLU on "
        f"{cfg.input_scale:g}·x, {cfg.init} init; {cfg.optimizer} lr {cfg.learning_rate:g}"
        + (f" β1 {cfg.beta1:g}" if cfg.optimizer == "adam" else "")
        + f"; base loss {cfg.loss}, {cfg.scheme} updates where the method allows. Metrics of "
        f"{cfg.num_eval_samples} samples per save point: a sample is of high quality within 3 "
        f"std of its nearest mode, a mode is covered by ≥ 1 high-quality sample (PacGAN), KL is "
        f"the reverse KL of the high-quality samples' mode histogram to uniform (nats).",
        "",
        f"### Final step ({int(steps[-1])}): mean ± standard error over seeds",
        "",
    ]
    header = ["method", "modes covered", f"all {num_modes} (% seeds)", "high quality (%)",
              "reverse KL", "NN distance", "diverged"]
    rows = []
    for i, m in enumerate(methods):
        mm, ms = _mean_se(modes[:, i, -1])
        hm, hs = _mean_se(hq[:, i, -1])
        km, ks = _mean_se(kl[:, i, -1])
        row = [m, _pm(mm, ms), f"{100 * np.mean(modes[:, i, -1] >= num_modes):.0f}",
               _pm(hm, hs, 1, 100.0), _pm(km, ks)]
        if final is not None and "nn_distance" in final:
            dm, dse = _mean_se(np.asarray(final["nn_distance"].values)[:, i])
            row.append(_pm(dm, dse, 3))
        else:
            row.append("–")
        row.append(str(int(np.sum(status[:, i] == int(RESULTS.diverged)))))
        rows.append(row)
    lines += [markdown_table(header, rows), ""]
    if final is not None and "nn_distance_floor" in final:
        fm, fs = _mean_se(np.asarray(final["nn_distance_floor"].values))
        lines += [f"NN distance: WGAN-form neural-net distance (Arora et al. 2017) of the "
                  f"{cfg.num_kept_samples} kept final samples against fresh data, "
                  f"{cfg.nnd_restarts} restarts; its floor between two fresh data sets of "
                  f"that size is {_pm(fm, fs, 3)}.", ""]
    lit = LITERATURE.get(cfg.kind, [])
    if lit:
        lines += ["Literature for scale (different architectures, budgets and protocols):", ""]
        lines += [markdown_table(["source", "modes", "high quality (%)", "reverse KL"],
                                 [[s, f"{a:g}", f"{b:g}", "–" if c is None else f"{c:g}"]
                                  for s, a, b, c in lit]), ""]
    # modes over training
    lines += ["### Modes covered over training (mean over seeds)", ""]
    pick = save_columns(len(steps), 9)
    rows = [[m] + [f"{modes[:, i, j].mean():.2f}" for j in pick] for i, m in enumerate(methods)]
    lines += [markdown_table(["method"] + [str(int(steps[j])) for j in pick], rows), ""]
    # the headline
    lines += ["### Headline (Nagarajan–Kolter §4, Fig. 1)", ""]
    if cfg.kind == "ring" and "nk" in methods and "vanilla" in methods:
        h = headline(modes, steps, methods, num_modes)
        verdict = "**holds**" if h["holds"] else "**does not hold**"
        txt = (f"Claim: NK covers all 8 modes in ≥ 90% of seeds at a step budget where vanilla "
               f"covers fewer on average, and spreads faster than {cfg.unroll_k}-unrolled. "
               f"In this run it {verdict}. First save step with ≥ 90% of seeds at all 8 modes: "
               f"NK {h['t_nk']}, unrolled {h['t_unrolled']}, vanilla {h['t_vanilla']} "
               f"(None: never within {cfg.num_steps} steps). ")
        if h["budget"] is not None:
            ab = h["at_budget"]
            txt += (f"At step {h['budget']}: " + ", ".join(
                f"{k} {v[0]:.2f} modes ({100 * v[1]:.0f}% of seeds at all 8)"
                for k, v in ab.items()) + ". ")
        else:
            txt += "No save step has NK at ≥ 90% full coverage with vanilla below NK. "
        txt += (f"Budget part: {'holds' if h['holds_budget'] else 'does not hold'}; "
                f"faster-than-unrolled part: "
                f"{ {True: 'holds', False: 'does not hold', None: 'not run'}[h['holds_faster']]}.")
        if cfg.unroll_k != 10 and "unrolled" in methods:
            txt += f" (Unrolling here is k = {cfg.unroll_k}, not the paper's 10.)"
        lines += [txt, ""]
    else:
        lines += ["Not evaluated: it needs the ring with the methods nk and vanilla.", ""]
    lines += ["### About the issue's first attempt", "", _FINDING, ""]
    figures = _mog_figures(cfg, ds, methods, steps, modes, out)
    return ReportPart("\n".join(lines), figures)


def _mog_figures(cfg, ds, methods, steps, modes, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    out = Path(out)
    figures = []
    centres = np.asarray(MixtureOfGaussians(cfg.kind).modes)
    samples = ds["samples"].isel(seed=0)  # (method, step, n, 2)
    cols = save_columns(len(steps), 6)
    lim = float(np.max(np.abs(centres))) + 1.0
    fig = Figure(figsize=(1.6 * len(cols), 1.6 * len(methods)))
    axes = fig.subplots(len(methods), len(cols), squeeze=False)
    for i, m in enumerate(methods):
        data = np.asarray(samples.isel(method=i).values)
        for c, j in enumerate(cols):
            ax = axes[i, c]
            ax.scatter(centres[:, 0], centres[:, 1], s=12, c="tab:green", marker="x", lw=0.8)
            ax.scatter(data[j, :, 0], data[j, :, 1], s=1.5, c="tab:blue", alpha=0.5, lw=0)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if i == 0:
                ax.set_title(f"step {int(steps[j])}", fontsize=8)
            if c == 0:
                ax.set_ylabel(m, fontsize=8)
    fig.suptitle(f"Generator samples over training (seed 0), {cfg.kind}; x: modes",
                 fontsize=9)
    fig.tight_layout()
    path = out / "mog_samples.png"
    fig.savefig(path, dpi=90)
    figures.append(path)

    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for i, m in enumerate(methods):
        mean, se = _mean_se(modes[:, i, :])
        ax.plot(steps, mean, label=m, lw=1.2)
        ax.fill_between(steps, mean - se, mean + se, alpha=0.2)
    ax.axhline(centres.shape[0], color="k", lw=0.6, ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel("modes covered (mean ± s.e.)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = out / "mog_modes.png"
    fig.savefig(path, dpi=90)
    figures.append(path)
    return figures


register(
    Experiment(
        name="mog",
        config=MoGConfig,
        run=run_mog,
        report=report_mog,
        reproduces="Nagarajan–Kolter 2017 §4 Fig. 1 (mixture of Gaussians), with VEEGAN/PacGAN "
                   "mode metrics for every stabiliser",
        presets=MOG_PRESETS,
        quick_runtime="~2 min",
        full_runtime="~15 min (2 cores)",
    )
)


# ---------------------------------------------------------------------------------------------
# `jacobian-spectra`

SPECTRA_METHODS = ("simultaneous", "consensus")
SPECTRA_FIELDS = ("b0", "consensus")
VERDICTS = {
    0: "converges",
    1: "cycles",
    2: "diverges (unstable flow)",
    3: "diverges (step too large)",
}
_VERDICT_WHY = {
    0: "every eigenvalue of F′ = I + ηJ lies inside the unit circle",
    1: "the dominant eigenvalue of J is rotational (|Im λ| ≫ |Re λ| ≈ 0): the linearised flow "
       "circles and simultaneous steps spiral slowly outwards",
    2: "J has an eigenvalue with Re λ > 0: the linearised flow itself moves away",
    3: "the flow is locally contracting (all Re λ < 0) but η is too large for an eigenvalue λ: "
       "|1 + ηλ| > 1 when η > 2|Re λ|/|λ|²",
}


@dataclasses.dataclass(frozen=True)
class SpectraConfig:
    """The eigenvalues of trained MoG GANs' Jacobians (Mescheder, Nowozin & Geiger 2017, "The
    numerics of GANs", §3–4 and their notebook mog-eigval-dist: 4×16 ReLU players, latent 16,
    batch 512, non-saturating loss, γ = 10), with and without consensus. Training is
    simultaneous gradient descent with step η (plain SGD, so that the update operator analysed,
    F′ = I + ηJ of the followed field, is exactly the one in use). At every save point the
    parameters are kept; afterwards, on one fixed evaluation batch, the top eigenvalues of J
    (largest modulus and largest real part, matrix-free Arnoldi on JVPs) of b0 and of the
    consensus field, the top eigenvalues of the update operator (`update_stability`,
    Arnoldi), the players' Hessian extremes (local-Nash test) and the verdict (converges,
    cycles, diverges) are computed. Writes the groups `spectra_train` (dims seed, method, step:
    the parameters, `modes_covered`, `high_quality_fraction`, `kl_uniform`) and `spectra`
    (dims seed, method, step, field, k; a point whose eigensolver fails keeps verdict −1 and
    NaN, with the reason in the attrs `failed`).

    - `kind`: the mixture (ring, grid or grid16)
    - `methods`: simultaneous (b0) and/or consensus
    - `seeds`: number of seeds
    - `seed`: root PRNG seed
    - `num_steps`: training steps
    - `save_every`: steps between save points (each is analysed)
    - `batch_size`: training minibatch size
    - `eval_batch`: size of the fixed batch on which J is evaluated
    - `latent_dim`: generator latent dimension
    - `width`: hidden width of both players
    - `depth`: hidden layers of both players
    - `loss`: gan (saturating) or nsgan (Mescheder's)
    - `learning_rate`: the SGD step eta of both players
    - `gamma_consensus`: consensus weight gamma
    - `num_eigs`: eigenvalues kept per spectrum (k)
    - `arnoldi_tol`: ARPACK tolerance
    - `dtype`: float64 (analysis precision) or float32
    """

    kind: str = "ring"
    methods: tuple[str, ...] = SPECTRA_METHODS
    seeds: int = 4
    seed: int = 0
    num_steps: int = 4000
    save_every: int = 1000
    batch_size: int = 512
    eval_batch: int = 2048
    latent_dim: int = 16
    width: int = 16
    depth: int = 4
    loss: str = "nsgan"
    learning_rate: float = 0.05
    gamma_consensus: float = 10.0
    num_eigs: int = 6
    arnoldi_tol: float = 1e-8
    dtype: str = "float64"

    def __post_init__(self):
        _check_in("kind", self.kind, ("ring", "grid", "grid16"))
        if not self.methods:
            raise ValueError("methods must name at least one of simultaneous, consensus")
        for m in self.methods:
            _check_in("method", m, SPECTRA_METHODS)
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods are repeated: {self.methods}")
        for n in ("seeds", "num_steps", "save_every", "batch_size", "eval_batch", "latent_dim",
                  "width", "num_eigs"):
            if getattr(self, n) < 1:
                raise ValueError(f"{n} must be >= 1, got {getattr(self, n)}")
        if self.depth < 0 or self.seed < 0:
            raise ValueError("depth and seed must be >= 0")
        if self.num_steps % self.save_every:
            raise ValueError(f"save_every={self.save_every} must divide "
                             f"num_steps={self.num_steps}")
        _check_pos(self, "learning_rate", "arnoldi_tol")
        _check_pos(self, "gamma_consensus", zero=True)
        _check_in("loss", self.loss, ("gan", "nsgan"))
        _check_in("dtype", self.dtype, _DTYPES)


SPECTRA_PRESETS: dict[str, dict[str, Any]] = {
    "quick": dict(seeds=2, num_steps=400, save_every=200, batch_size=128, eval_batch=512,
                  latent_dim=4, width=8, depth=2, num_eigs=4, arnoldi_tol=1e-6),
}


def _spectra_mog_config(cfg: SpectraConfig) -> MoGConfig:
    """The `mog` settings that build the game and the schemes of a spectra run."""
    return MoGConfig(kind=cfg.kind, methods=("vanilla",), seeds=cfg.seeds, seed=cfg.seed,
                     num_steps=cfg.num_steps, save_every=cfg.save_every,
                     batch_size=cfg.batch_size, latent_dim=cfg.latent_dim, gen_width=cfg.width,
                     gen_depth=cfg.depth, disc_width=cfg.width, disc_depth=cfg.depth,
                     input_scale=1.0, init="glorot", loss=cfg.loss, scheme="simultaneous",
                     optimizer="sgd", learning_rate=cfg.learning_rate,
                     gamma_consensus=cfg.gamma_consensus, num_eval_samples=2500,
                     num_kept_samples=1, nnd_restarts=0, dtype=cfg.dtype)


class SpectraMember(AbstractProblem):
    """A `MoGMember` that also observes its parameters x (flat, ganflow's flat order)."""

    inner: MoGMember
    vectorised = False

    def init(self, key, params):
        return self.inner.init(key, params)

    def step(self, state, key, t, params):
        return self.inner.step(state, key, t, params)

    def observe(self, state, params):
        from jax.flatten_util import ravel_pytree

        out = self.inner.observe(state, params)
        del out["samples"]
        out["x"] = ravel_pytree(state[0].x)[0]
        return out

    def finite_part(self, state):
        return self.inner.finite_part(state)


def spectra_fields(cfg: SpectraConfig):
    """(game, {"b0": b0, "consensus": b0 − γJᵀb0}) of a spectra run (minibatch fields,
    called as b(x, batch))."""
    from .. import stabilisers as st

    mcfg = _spectra_mog_config(cfg)
    game = make_game(mcfg, "consensus")
    return game, {"b0": game.vector_field(),
                  "consensus": st.stabilise(game, st.Consensus(cfg.gamma_consensus))}


def verdict(rho: float, lr_eig: complex, upd_eig: complex, eta: float,
            tol: float = 1e-9) -> tuple[int, str]:
    r"""The local verdict at a point from the spectra of the followed field b (`lr_eig`: the
    eigenvalue of J of largest real part) and of simultaneous GD's update operator
    $F' = I + ηJ$ (`rho` = ρ(F′), `upd_eig` its eigenvalue of largest modulus, μ = 1 + ηλ):

    - 0 *converges*: ρ < 1;
    - 2 *diverges (unstable flow)*: max Re λ(J) > tol·(1 + |λ|);
    - 1 *cycles*: otherwise, when the eigenvalue λ = (μ − 1)/η behind ρ is rotational,
      |Im λ| > 10 |Re λ| (Mescheder 2017: eigenvalues near the imaginary axis make simultaneous
      steps fail whatever η);
    - 3 *diverges (step too large)*: otherwise (the flow contracts; η > 2|Re λ|/|λ|²).

    Returns (code, a one-line reason with the numbers).
    """
    lam = (complex(upd_eig) - 1.0) / eta
    if rho < 1.0:
        return 0, f"ρ(I + ηJ) = {rho:.6f} < 1"
    if lr_eig.real > tol * (1.0 + abs(lr_eig)):
        return 2, (f"Re λ_max(J) = {lr_eig.real:.3g} > 0 (λ = {lr_eig.real:.3g} "
                   f"{lr_eig.imag:+.3g}i); ρ = {rho:.6f}")
    if abs(lam.imag) > 10.0 * abs(lam.real):
        return 1, (f"ρ = {rho:.6f} from λ = {lam.real:.3g} {lam.imag:+.3g}i: |Im λ|/|Re λ| = "
                   f"{abs(lam.imag) / max(abs(lam.real), 1e-300):.3g}")
    need = 2.0 * abs(lam.real) / max(abs(lam) ** 2, 1e-300)
    return 3, f"ρ = {rho:.6f} from λ = {lam.real:.3g} {lam.imag:+.3g}i: needs η < {need:.3g}"


def analyse_point(cfg: SpectraConfig, game, fields, x, batch) -> dict[str, Any]:
    """Spectra, update operator, Nash test and verdict at one state x for both fields."""
    from ..analysis import player_hessian_eigenvalues, top_eigenvalues, update_stability

    k = cfg.num_eigs
    out: dict[str, Any] = {}
    kw = dict(method="arnoldi", k=k, tol=cfg.arnoldi_tol)
    for name, b in fields.items():
        lm = top_eigenvalues(b, x, batch, which="LM", return_eigenvectors=False, **kw)
        lr = top_eigenvalues(b, x, batch, which="LR", return_eigenvectors=False, **kw)
        upd = update_stability(b, x, batch, eta=cfg.learning_rate, scheme="simultaneous",
                               method="arnoldi", k=k)
        upd_eigs = np.asarray(upd.eigenvalues)
        rho = float(upd.radius)
        code, why = verdict(rho, complex(lr.eigenvalues[0]), complex(upd_eigs[0]),
                            cfg.learning_rate)
        out[name] = {
            "lm": _pad(lm.eigenvalues, k), "lr": _pad(lr.eigenvalues, k),
            "upd": _pad(upd_eigs, k), "rho": rho, "max_re": float(lr.eigenvalues[0].real),
            "field_norm": float(_field_norm(b, x, batch)), "verdict": code, "why": why,
        }
    eig_t, eig_w = player_hessian_eigenvalues(game.objective(), x, batch)
    out["theta_hess_min"] = float(np.min(eig_t))
    out["omega_hess_max"] = float(np.max(eig_w))
    out["nash"] = bool(np.min(eig_t) > 0 and np.max(eig_w) < 0)
    return out


@eqx.filter_jit
def _field_norm(b, x, batch):
    from jax.flatten_util import ravel_pytree

    return jnp.linalg.norm(ravel_pytree(b(x, batch))[0])


def spectra_eval_point(cfg: SpectraConfig, game):
    """(unravel, batch): the map from a saved flat parameter vector to the state x, and the
    fixed evaluation batch of a spectra run."""
    from jax.flatten_util import ravel_pytree

    shapes = jax.eval_shape(game.init, jax.random.key(0))
    _, unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype),
                                                     shapes))
    key = jax.random.fold_in(jax.random.key(cfg.seed), _SALT_EVAL)
    batch = eqx.filter_jit(lambda k: game.sample(k, cfg.eval_batch))(key)
    return unravel, batch


def _pad(vals, k) -> np.ndarray:
    v = np.full(k, np.nan + 1j * np.nan, np.complex128)
    vals = np.asarray(vals, np.complex128)[:k]
    v[: vals.size] = vals
    return v


def run_spectra(cfg: SpectraConfig, out: Path, options: RunOptions | None = None) -> None:
    """Training through the engine (group `spectra_train`), then the analysis of every saved
    state (summary `spectra`)."""
    import xarray as xr

    from ..engine import Axis

    options = RunOptions() if options is None else options
    mcfg = _spectra_mog_config(cfg)

    def make(method: str) -> SpectraMember:
        game = make_game(mcfg, "consensus")
        scheme = make_scheme("consensus" if method == "consensus" else "nsgan", mcfg, game)
        if method == "simultaneous":  # b0 of the config's loss, simultaneous SGD
            from .. import training as tr

            scheme = tr.SimultaneousGDA(game.vector_field(), optax.sgd(cfg.learning_rate),
                                        lambda k: game.sample(k, cfg.batch_size))
        return SpectraMember(MoGMember(game, scheme, 2500, 1))

    sweep = Sweep(seeds=seed_keys_of(cfg.seed, cfg.seeds),
                  axes=[Axis("method", tuple(cfg.methods), static=True)])
    res = run_ensemble(make, sweep, cfg.num_steps, save_every=cfg.save_every, out=out,
                       group="spectra_train", resume=options.resume, progress=options.progress,
                       config=dataclasses.asdict(cfg),
                       checkpoint_every=_checkpoint_every(cfg.num_steps, cfg.save_every),
                       keep_final=False, name="jacobian-spectra")
    ds = res.dataset
    game, fields = spectra_fields(cfg)
    unravel, batch = spectra_eval_point(cfg, game)
    xs = np.asarray(ds["x"].values)  # (seed, method, step, d)
    steps = np.asarray(ds["step"].values)
    status = np.asarray(ds["status"].values)
    ns, nm, nt, k, nf = cfg.seeds, len(cfg.methods), len(steps), cfg.num_eigs, len(fields)
    shape = (ns, nm, nt, nf)
    arr = {n: np.full(shape + (k,), np.nan, np.float64)
           for n in ("lm_re", "lm_im", "lr_re", "lr_im", "upd_re", "upd_im")}
    scal = {n: np.full(shape, np.nan, np.float64) for n in ("rho", "max_re", "field_norm")}
    code = np.full(shape, -1, np.int8)
    hess = {n: np.full((ns, nm, nt), np.nan) for n in ("theta_hess_min", "omega_hess_max")}
    nash = np.full((ns, nm, nt), -1, np.int8)
    whys, failed = {}, {}
    for s in range(ns):
        for m in range(nm):
            for t in range(nt):
                flat = xs[s, m, t]
                if not np.all(np.isfinite(flat)) or status[s, m] == int(RESULTS.diverged) and t:
                    continue
                x = unravel(jnp.asarray(flat, game.dtype))
                try:
                    a = analyse_point(cfg, game, fields, x, batch)
                except (RuntimeError, ValueError, ArithmeticError) as err:
                    # an eigensolver failing at one point: flagged, the other points go on
                    where = f"seed {s}, {cfg.methods[m]}, step {int(steps[t])}"
                    failed[where] = f"{type(err).__name__}: {err}"
                    warnings.warn(f"jacobian-spectra: analysis failed at {where}: {err}",
                                  stacklevel=1)
                    continue
                for f, name in enumerate(fields):
                    r = a[name]
                    for key in ("lm", "lr", "upd"):
                        arr[f"{key}_re"][s, m, t, f] = r[key].real
                        arr[f"{key}_im"][s, m, t, f] = r[key].imag
                    for key in scal:
                        scal[key][s, m, t, f] = r[key]
                    code[s, m, t, f] = r["verdict"]
                    whys[f"{s}/{cfg.methods[m]}/{int(steps[t])}/{name}"] = r["why"]
                hess["theta_hess_min"][s, m, t] = a["theta_hess_min"]
                hess["omega_hess_max"][s, m, t] = a["omega_hess_max"]
                nash[s, m, t] = int(a["nash"])
    dims4, dims5 = ("seed", "method", "step", "field"), ("seed", "method", "step", "field", "k")
    data = {n: (dims5, v) for n, v in arr.items()}
    data.update({n: (dims4, v) for n, v in scal.items()})
    data["verdict"] = (dims4, code)
    data["local_nash"] = (("seed", "method", "step"), nash)
    data.update({n: (("seed", "method", "step"), v) for n, v in hess.items()})
    import json

    summary = xr.Dataset(
        data,
        coords={"seed": np.arange(ns), "method": list(cfg.methods), "step": steps,
                "field": list(fields), "k": np.arange(k)},
        attrs={"verdicts": json.dumps(VERDICTS), "reasons": json.dumps(whys),
               "failed": json.dumps(failed),
               "eta": cfg.learning_rate, "eval_batch": cfg.eval_batch,
               "what": "top eigenvalues of J (lm: largest modulus, lr: largest real part) and "
                       "of F' = I + eta J (upd), per field analysed; verdict codes in attrs"},
    )
    write_summary(out, "spectra", summary)


def report_spectra(cfg: SpectraConfig, results: dict[str, Any], out: Path) -> ReportPart:
    """Per save point: the top eigenvalues, ρ(F′), Nash and the verdict (majority over seeds,
    with one seed's reason); the complex-plane figure."""
    import json

    ds = results["spectra"]
    train = results.get("spectra_train")
    methods = [str(m) for m in ds["method"].values]
    fields = [str(f) for f in ds["field"].values]
    steps = np.asarray(ds["step"].values)
    reasons = json.loads(ds.attrs.get("reasons", "{}"))
    eta = float(ds.attrs.get("eta", cfg.learning_rate))
    lines = [
        f"Mixture **{cfg.kind}**; players {cfg.depth}×{cfg.width} ReLU (latent "
        f"{cfg.latent_dim}), loss {cfg.loss}; simultaneous SGD with η = {eta:g}, batch "
        f"{cfg.batch_size}; {cfg.seeds} seeds. At every save point, on one fixed batch of "
        f"{cfg.eval_batch}: the top {cfg.num_eigs} eigenvalues of J = ∂b/∂x by largest modulus "
        "and by largest real part (matrix-free Arnoldi on JVPs), of the update operator "
        "F′ = I + ηJ (its spectral radius ρ), and the players' Hessian extremes. Fields: b0 (the "
        f"game's) and consensus b0 − γJᵀb0 (γ = {cfg.gamma_consensus:g}). A save point is not a "
        "stationary point (‖b‖ is listed): the verdict is that of the linearisation there — "
        "would the iteration, started near this point, contract (converge), circle (cycle) or "
        "expand (diverge), and why.",
        "",
    ]
    header = ["run", "step", "field", "‖b‖", "λ(J) max |·|", "λ(J) max Re", "ρ(I + ηJ)",
              "local Nash (% seeds)", "verdict (seeds)", "why (seed 0)"]
    rows = []
    for i, m in enumerate(methods):
        for j, s in enumerate(steps):
            for f, fname in enumerate(fields):
                own = (m == "consensus") == (fname == "consensus")
                if not own:
                    continue
                sub = ds.isel(method=i, step=j, field=f)
                codes = np.asarray(sub["verdict"].values)
                ok = codes >= 0
                if not ok.any():
                    continue
                lm = sub["lm_re"].values[:, 0] + 1j * sub["lm_im"].values[:, 0]
                lr = sub["lr_re"].values[:, 0] + 1j * sub["lr_im"].values[:, 0]
                nash = np.asarray(ds["local_nash"].isel(method=i, step=j).values)
                counts = {VERDICTS[int(c)]: int(np.sum(codes == c)) for c in np.unique(codes[ok])}
                rows.append([
                    m, str(int(s)), fname,
                    f"{np.nanmean(sub['field_norm'].values):.3g}",
                    _cfmt(lm[0]), _cfmt(lr[0]),
                    _pm(*_mean_se(sub["rho"].values), 6),
                    f"{100 * np.mean(nash[nash >= 0] == 1):.0f}" if (nash >= 0).any() else "–",
                    ", ".join(f"{k} {v}" for k, v in counts.items()),
                    reasons.get(f"0/{m}/{int(s)}/{fname}", "–"),
                ])
    lines += [markdown_table(header, rows), ""]
    failed = json.loads(ds.attrs.get("failed", "{}"))
    if failed:
        lines += [f"**The analysis failed at {len(failed)} saved point(s)**, left out of the "
                  "table (verdict −1, NaN in the results):", ""]
        lines += [f"- {where}: {why}" for where, why in failed.items()] + [""]
    lines += ["Verdicts: " + "; ".join(f"*{VERDICTS[c]}*: {_VERDICT_WHY[c]}" for c in VERDICTS)
              + ".", ""]
    # what consensus does to the same points
    if "consensus" in fields and "b0" in fields:
        i_b0, i_c = fields.index("b0"), fields.index("consensus")
        mr = np.asarray(ds["max_re"].values)  # (seed, method, step, field)
        rho = np.asarray(ds["rho"].values)
        lines += [
            "Both fields at every saved point (mean over seeds and save points): "
            + "; ".join(
                f"trained with {m}: max Re λ(J) b0 {np.nanmean(mr[:, i, :, i_b0]):.3g} vs "
                f"consensus {np.nanmean(mr[:, i, :, i_c]):.3g}, ρ(I + ηJ) b0 "
                f"{np.nanmean(rho[:, i, :, i_b0]):.6f} vs consensus "
                f"{np.nanmean(rho[:, i, :, i_c]):.6f}" for i, m in enumerate(methods))
            + ". Mescheder et al. (2017) predict that consensus moves the eigenvalues of J "
            "to the left (J − γJᵀJ at a stationary point), away from the imaginary axis.", ""]
    if train is not None:
        mc = np.asarray(train["modes_covered"].values, float)
        lines += ["Modes covered at the last save point (mean ± s.e.): " + "; ".join(
            f"{m} {_pm(*_mean_se(mc[:, i, -1]))}" for i, m in enumerate(methods)) + ".", ""]
    figures = _spectra_figure(cfg, ds, methods, fields, steps, out)
    return ReportPart("\n".join(lines), figures)


def _cfmt(z: complex) -> str:
    if not np.isfinite(z):
        return "–"
    return f"{z.real:.3g} {z.imag:+.3g}i"


def _spectra_figure(cfg, ds, methods, fields, steps, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(methods), 7.6))
    axes = fig.subplots(2, len(methods), squeeze=False)
    cmap = matplotlib.colormaps["viridis"]
    for i, m in enumerate(methods):
        fname = "consensus" if m == "consensus" else "b0"
        f = fields.index(fname) if fname in fields else 0
        sub = ds.isel(method=i, field=f)
        for j, s in enumerate(steps):
            c = cmap(j / max(len(steps) - 1, 1))
            for key, mk in (("lm", "o"), ("lr", "s")):
                z = (sub[f"{key}_re"].isel(step=j).values
                     + 1j * sub[f"{key}_im"].isel(step=j).values).ravel()
                axes[0, i].plot(z.real, z.imag, mk, ms=4, mfc="none", mec=c,
                                label=f"step {int(s)}" if key == "lm" else None)
            u = (sub["upd_re"].isel(step=j).values + 1j * sub["upd_im"].isel(step=j).values).ravel()
            axes[1, i].plot(u.real, u.imag, "o", ms=4, mfc="none", mec=c)
        ax = axes[0, i]
        ax.axvline(0.0, color="k", lw=0.8)
        ax.axhline(0.0, color="0.7", lw=0.5)
        ax.set_title(f"J of {fname} field, trained with {m}", fontsize=9)
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        ax.legend(fontsize=6)
        ax = axes[1, i]
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), "k--", lw=0.8)
        u_all = (sub["upd_re"].values + 1j * sub["upd_im"].values).ravel()
        u_all = u_all[np.isfinite(u_all)]
        if u_all.size:
            r = max(float(np.max(np.abs(u_all - 1.0))), 1e-6) * 1.3
            ax.set_xlim(1 - r, 1 + r)
            ax.set_ylim(-r, r)
        ax.set_title(f"F′ = I + ηJ (η = {cfg.learning_rate:g}) near 1; unit circle dashed",
                     fontsize=8)
        ax.set_xlabel("Re μ")
        ax.set_ylabel("Im μ")
    fig.suptitle("Top eigenvalues (o: largest modulus, □: largest real part) over training",
                 fontsize=9)
    fig.tight_layout()
    path = Path(out) / "jacobian_spectra.png"
    fig.savefig(path, dpi=90)
    return [path]


register(
    Experiment(
        name="jacobian-spectra",
        config=SpectraConfig,
        run=run_spectra,
        report=report_spectra,
        reproduces="Mescheder, Nowozin & Geiger 2017 §3–4: eigenvalues of trained MoG GANs' "
                   "Jacobians with and without consensus",
        presets=SPECTRA_PRESETS,
        quick_runtime="~1 min",
        full_runtime="~15 min (2 cores; 5 training, 10 analysis)",
    )
)
