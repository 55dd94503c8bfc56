"""How close Adam's second moments come to its eps at the paper's large-model size.

The published large-model script (exp-17) trains on 100 x the per-element loss, which Adam
sees only through its eps (``TrainConfig.loss_scale``). This trains one strong-superposition
model at n = 10240 (m = 16, exp(-i/400), the paper's learning-rate rules, batch 2048) with the
package's own optimiser for a few hundred steps, and prints how many entries of W have
sqrt(v_hat) below 1e-8 and 1e-7: for those, eps = 1e-8 at least halves (or visibly shrinks)
the Adam step, where eps = 1e-10 does not.

    python benchmarks/adam_eps_check.py [--steps 600] [--m 16]
"""

import argparse
import time

import jax
import numpy as np
import optax

from toyscale import data, superposition
from toyscale.frequencies import exponential
from toyscale.optim import superposition_optimizer


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--m", type=int, default=16)
    args = parser.parse_args(argv)
    n, m, batch = 10240, args.m, 2048
    p = exponential(400.0).probs(n)
    tables = data.sparse_tables(p, batch, data.event_capacity(batch, 2.0))
    params = superposition.init_params(jax.random.PRNGKey(0), n, m)
    opt = superposition_optimizer(lr_w=0.02 * (8 / m) ** 0.25, lr_b=2.0 / m, gamma=-1.0, steps=20_000, warmup=1_000)

    @jax.jit
    def run(params, state):
        def step(carry, t):
            params, state = carry
            x, _ = data.sample_features_sparse(jax.random.fold_in(jax.random.PRNGKey(1), t), tables, batch, n)
            _, grads = superposition.per_element_loss_and_grad(params, x)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        return jax.lax.scan(step, (params, state), np.arange(args.steps))[0]

    start = time.perf_counter()
    _, state = run(params, opt.init(params))
    adam = state[0]
    rms = np.sqrt(np.asarray(adam.nu["W"]) / (1 - 0.999 ** int(adam.count)))
    seconds = time.perf_counter() - start
    out = {"n": n, "m": m, "steps": args.steps, "seconds": seconds,
           "row_rms_quantiles_10_50_90": np.quantile(rms.mean(axis=1), [0.1, 0.5, 0.9]).tolist(),
           "fraction_below_1e-8": float((rms < 1e-8).mean()), "fraction_below_1e-7": float((rms < 1e-7).mean())}
    print(f"n = {n}, m = {m}, {args.steps} steps in {seconds:.1f} s")
    print("per-row mean sqrt(v_hat), 10/50/90 %: " + ", ".join(f"{q:.2g}" for q in out["row_rms_quantiles_10_50_90"]))
    print(f"entries of W with sqrt(v_hat) < 1e-8: {100 * out['fraction_below_1e-8']:.1f} %, "
          f"< 1e-7: {100 * out['fraction_below_1e-7']:.1f} %")
    return out


if __name__ == "__main__":
    main()
