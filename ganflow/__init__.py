"""ganflow: GAN training as a dynamical system, in JAX.

The public API is re-exported here; logic lives in private modules. Subpackages:
`dynamics`, `games`, `models`, `losses`, `analysis`, `stabilisers`, `training`, `continuous`,
`engine` (ensembles of seeds × hyper-parameters: chunked, sharded, checkpointed, labelled),
`meanfield` (the solvable Wang–Hu–Lu model), `plotting` (import it explicitly; it needs
matplotlib) and `experiments` (the `ganflow` command).
`import ganflow` is quick: it imports neither JAX nor matplotlib; each public name imports its
subpackage on first use (PEP 562), so `ganflow.b0` or `from ganflow import b0` work as usual.
"""

import typing

from ._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:  # the public names, imported on first use (`ganflow._lazy`)
    from . import (
        analysis as analysis,
        continuous as continuous,
        dynamics as dynamics,
        engine as engine,
        games as games,
        losses as losses,
        meanfield as meanfield,
        models as models,
        stabilisers as stabilisers,
        training as training,
    )
    from ._cache import enable_compilation_cache as enable_compilation_cache
    from .analysis import (
        classify_stationary_point as classify_stationary_point,
        deterministic_weak_error as deterministic_weak_error,
        dissipativity as dissipativity,
        eigenvalues as eigenvalues,
        fdr1 as fdr1,
        fdr2 as fdr2,
        fdr2_schedule as fdr2_schedule,
        find_stationary_point as find_stationary_point,
        fit_order as fit_order,
        generalisation_gap as generalisation_gap,
        is_hurwitz as is_hurwitz,
        is_local_nash as is_local_nash,
        neural_net_distance as neural_net_distance,
        nk_matrices as nk_matrices,
        nk_rate_bounds as nk_rate_bounds,
        spectral_radius as spectral_radius,
        top_eigenvalues as top_eigenvalues,
        update_stability as update_stability,
        weak_error as weak_error,
    )
    from .continuous import (
        SDE as SDE,
        ConstantDiffusion as ConstantDiffusion,
        GradientNoise as GradientNoise,
        cao_guo_sde as cao_guo_sde,
        sde_ensemble as sde_ensemble,
        solve_ode as solve_ode,
        solve_sde as solve_sde,
    )
    from .dynamics import (
        AbstractField as AbstractField,
        GameField as GameField,
        ModifiedField as ModifiedField,
        NoiseFactor as NoiseFactor,
        Objective as Objective,
        as_objective as as_objective,
        b0 as b0,
        b1 as b1,
        discriminator_grad as discriminator_grad,
        generator_grad as generator_grad,
        grads as grads,
        hessian_blocks as hessian_blocks,
        hvp_omega as hvp_omega,
        hvp_theta as hvp_theta,
        jacobian as jacobian,
        jvp as jvp,
        linearize as linearize,
        mixed_omega_theta as mixed_omega_theta,
        mixed_theta_omega as mixed_theta_omega,
        modified_field as modified_field,
        noise_factor as noise_factor,
        per_example_grads as per_example_grads,
        ravel_state as ravel_state,
        self_jvp as self_jvp,
        self_vjp as self_vjp,
        simultaneous_correction as simultaneous_correction,
        split_index as split_index,
        vector_field as vector_field,
        vjp as vjp,
    )
    from .engine import (
        RESULTS as RESULTS,
        AbstractProblem as AbstractProblem,
        Execution as Execution,
        RunFolder as RunFolder,
        Sweep as Sweep,
        run_ensemble as run_ensemble,
    )
    from .games import (
        AbstractGame as AbstractGame,
        AbstractGANGame as AbstractGANGame,
        Bilinear as Bilinear,
        DiracGAN as DiracGAN,
        LinearQuadraticGaussian as LinearQuadraticGaussian,
        MixtureOfGaussians as MixtureOfGaussians,
        NagarajanKolter2D as NagarajanKolter2D,
        StackedDigits as StackedDigits,
        get_game as get_game,
        mode_metrics as mode_metrics,
    )
    from .losses import (
        AbstractLoss as AbstractLoss,
        GANLoss as GANLoss,
        WGANLoss as WGANLoss,
        get_loss as get_loss,
    )
    from .stabilisers import (
        LSS as LSS,
        R1 as R1,
        R2 as R2,
        SGA as SGA,
        WGANGP as WGANGP,
        AbstractStabiliser as AbstractStabiliser,
        Consensus as Consensus,
        InstanceNoise as InstanceNoise,
        LSSTwoTimescale as LSSTwoTimescale,
        NagarajanKolter as NagarajanKolter,
        Roth as Roth,
        SpectralNorm as SpectralNorm,
        Stabilised as Stabilised,
        WeightClipping as WeightClipping,
        stabilise as stabilise,
    )
    from .training import (
        EMA as EMA,
        TTUR as TTUR,
        WGANQC as WGANQC,
        AlternatingGDA as AlternatingGDA,
        CompetitiveGD as CompetitiveGD,
        Extragradient as Extragradient,
        OptimisticGDA as OptimisticGDA,
        RunSolution as RunSolution,
        SimultaneousGDA as SimultaneousGDA,
        Unrolled as Unrolled,
        make_scheme as make_scheme,
        mounjid_guo as mounjid_guo,
        run as run,
        scale_by_mounjid_guo as scale_by_mounjid_guo,
        sgda_ensemble as sgda_ensemble,
    )

__version__ = "0.1.0"

__getattr__, __dir__ = _lazy_exports(__name__, __file__)
