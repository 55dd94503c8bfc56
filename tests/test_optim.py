import math
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from toyscale.optim import row_decay_direction, signed_row_decay, superposition_optimizer, warmup_cosine


def test_row_decay_direction_follows_eq2(strict_promotion):
    W = jnp.asarray([[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(row_decay_direction(W, 0.5), 0.5 * W, rtol=1e-6)
    # gamma < 0: gamma * W_i * (1/||W_i|| - 1); norms are 5 and 0.5.
    expect = -1.0 * W * jnp.asarray([[1 / 5 - 1], [1 / 0.5 - 1]])
    np.testing.assert_allclose(row_decay_direction(W, -1.0), expect, rtol=1e-6)
    # eps = 0 had given 0/0 on a zero row; its own eps is checked as signed_row_decay checks one
    for eps in (0.0, -1e-8, 1e-46):
        with pytest.raises(ValueError, match=f"eps={eps!r}"):
            row_decay_direction(jnp.zeros((2, 2)), -1.0, eps=eps)
    assert np.all(np.isfinite(row_decay_direction(jnp.zeros((2, 2)), -1.0)))
    # one eps a row broadcasts, as before the check; each is checked
    per_row = np.array([[1e-8], [0.5]])
    np.testing.assert_allclose(row_decay_direction(W, -1.0, eps=per_row),
                               -1.0 * W * (1 / (np.array([[5.0], [0.5]]) + per_row) - 1), rtol=1e-6)
    for zero in (np.array([[1e-8], [0.0]]), jnp.array([[1e-8], [0.0]])):
        with pytest.raises(ValueError, match=r"eps has 1 value\(s\) not > 0; every eps must be > 0"):
            row_decay_direction(W, -1.0, eps=zero)
    traced = jax.jit(lambda e: row_decay_direction(W, -1.0, eps=e))(jnp.asarray(per_row))  # (traced: not checked)
    np.testing.assert_allclose(traced, row_decay_direction(W, -1.0, eps=per_row), rtol=1e-6)


def test_strong_decay_alone_drives_rows_to_unit_norm_and_weak_shrinks_them():
    W = jax.random.normal(jax.random.PRNGKey(0), (6, 4)) * jnp.asarray([0.1, 0.5, 0.9, 1.5, 3.0, 0.01])[:, None]

    def run(gamma):
        tx = optax.chain(signed_row_decay(gamma), optax.scale(-0.05))
        state = tx.init(W)

        def step(w, _):
            u, _ = tx.update(jnp.zeros_like(w), state, w)
            return w + u, None

        return jax.jit(lambda w: jax.lax.scan(step, w, None, length=400)[0])(W)

    np.testing.assert_allclose(np.linalg.norm(run(-1.0), axis=1), 1.0, atol=1e-3)
    assert np.all(np.linalg.norm(run(1.0), axis=1) < 0.5 * np.linalg.norm(W, axis=1))


def test_signed_row_decay_is_vmappable_over_gamma():
    W = jnp.ones((3, 2))
    tx = lambda g: signed_row_decay(g)
    out = jax.jit(jax.vmap(lambda g: tx(g).update(jnp.zeros_like(W), tx(g).init(W), W)[0]))(jnp.asarray([0.5, -1.0]))
    np.testing.assert_allclose(out[0], 0.5 * W)
    np.testing.assert_allclose(out[1], -W * (1 / np.sqrt(2) - 1), rtol=1e-6)


def _published_lr(step, n_steps, warmup_steps, min_lr=0.05):
    """The published scripts' ``get_lr`` (exp-10, exp-17) for a unit peak, transcribed."""
    step = step + 1
    if warmup_steps < n_steps:
        if step < warmup_steps:
            return step / warmup_steps
        progress = (step - warmup_steps) / (n_steps - warmup_steps)
        return (1.0 - min_lr) * 0.5 * (1 + math.cos(math.pi * progress)) + min_lr
    return (1.0 - min_lr) * 0.5 * (1 + math.cos(math.pi * step / n_steps)) + min_lr  # (no warm-up)


def test_schedule_warms_up_then_decays_to_five_percent():
    s = jax.jit(warmup_cosine(1000, 100))
    assert float(s(0)) == pytest.approx(0.01)
    assert float(s(98)) == pytest.approx(0.99)
    assert float(s(99)) == pytest.approx(1.0)
    assert float(s(549)) == pytest.approx(0.525, abs=1e-6)
    assert float(s(999)) == pytest.approx(0.05)  # the last step ends exactly on the floor
    values = np.asarray(jax.vmap(s)(jnp.arange(99, 1000)))
    assert np.all(np.diff(values) <= 1e-7)


# (warmup == steps: the published branch without warm-up; ours had ramped up to the peak on
# the last step and never decayed)
@pytest.mark.parametrize("steps, warmup", [(1000, 100), (20_000, 1_000), (50, 0), (10, 2), (10, 10), (2000, 2000)])
def test_schedule_is_the_published_get_lr_at_every_step(steps, warmup):
    ours = np.asarray(jax.vmap(warmup_cosine(steps, warmup))(jnp.arange(steps)))
    published = np.array([_published_lr(t, steps, warmup) for t in range(steps)])
    np.testing.assert_allclose(ours, published, rtol=2e-6, atol=1e-7)


def test_optimizer_matches_a_hand_written_adamw_step():
    params = {"W": jnp.asarray([[0.3, -0.2], [1.5, 0.5]]), "b": jnp.asarray([0.1, -0.4])}
    grads = {"W": jnp.asarray([[0.1, 0.2], [-0.3, 0.05]]), "b": jnp.asarray([0.2, -0.1])}
    lr_w, lr_b, gamma = 0.02, 0.5, -1.0
    opt = superposition_optimizer(lr_w=lr_w, lr_b=lr_b, gamma=gamma, steps=10, warmup=2)
    updates, _ = jax.jit(opt.update)(grads, opt.init(params), params)
    eta = 0.5  # schedule at t = 0 with 2 warm-up steps
    # Adam's first step: m_hat = g, v_hat = g^2 -> g / (|g| + eps).
    adam = {k: g / (jnp.abs(g) + 1e-8) for k, g in grads.items()}
    norms = jnp.linalg.norm(params["W"], axis=1, keepdims=True)
    decay = gamma * params["W"] * (1 / (norms + 1e-8) - 1)
    np.testing.assert_allclose(updates["W"], -eta * lr_w * (adam["W"] + decay), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(updates["b"], -eta * lr_b * adam["b"], rtol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda: warmup_cosine(100, 200), "warmup=200; warmup must not exceed steps=100"),
    (lambda: warmup_cosine(100, -1), "warmup=-1"),
    (lambda: warmup_cosine(100, 10, final_fraction=-3), "final_fraction=-3"),
    (lambda: warmup_cosine(100, 10, final_fraction=1.5), "final_fraction=1.5"),  # the "decay" would rise
    (lambda: warmup_cosine(100, 10, final_fraction=float("nan")), "final_fraction=nan"),
    (lambda: superposition_optimizer(lr_w=float("nan"), lr_b=1e-2, gamma=0.0, steps=10, warmup=2), "lr_w=nan"),
    (lambda: superposition_optimizer(lr_w=1e-2, lr_b=0.0, gamma=0.0, steps=10, warmup=2), "lr_b=0.0"),
    (lambda: superposition_optimizer(lr_w=1e-2, lr_b=1e-2, gamma=float("inf"), steps=10, warmup=2), "gamma=inf"),
    # (numbers float32 flushes to 0: an eps of 1e-45 gave 0/0 = nan updates, a rate of 1e-45 no step at all)
    (lambda: superposition_optimizer(lr_w=1e-2, lr_b=1e-2, gamma=0.0, steps=10, warmup=2, eps=1e-45),
     r"eps=1e-45; a positive eps must lie in \[1.175e-38"),
    (lambda: superposition_optimizer(lr_w=1e-45, lr_b=1e-2, gamma=0.5, steps=10, warmup=2), "lr_w=1e-45; a positive"),
    # (mutation check: a 0-d array is checked as the number it holds, against float32's range too, and a numpy
    # integer as a number)
    (lambda: superposition_optimizer(lr_w=np.array(1e-45), lr_b=1e-2, gamma=0.5, steps=10, warmup=2),
     "lr_w=1e-45; a positive"),
    (lambda: superposition_optimizer(lr_w=np.int64(-1), lr_b=1e-2, gamma=0.5, steps=10, warmup=2),
     r"lr_w=(np.int64\()?-1\)?; lr_w must be finite > 0"),
    (lambda: warmup_cosine(0, 0), r"steps=0; must be an integer >= 1"),  # (an empty schedule)
    (lambda: superposition_optimizer(lr_w=1e-2, lr_b=1e-2, gamma=-1e-45, steps=10, warmup=2), "gamma=-1e-45; a neg"),
    (lambda: signed_row_decay(float("nan")), "gamma=nan"),
    (lambda: signed_row_decay(-1.0, eps=0.0), "eps=0.0"),
])
def test_schedule_and_optimizer_refuse_values_that_would_give_negative_or_nan_rates(call, match):
    # (each of these used to build a schedule or optimizer that silently returned nan or < 0)
    with pytest.raises(ValueError, match=match):
        call()


def test_signed_row_decay_refuses_a_leaf_without_rows():
    # a vector (b, unmasked) had been decayed as one row of length n
    decay = signed_row_decay(-1.0)
    with pytest.raises(ValueError, match=r"signed_row_decay got a leaf of shape \(3,\); it decays the rows of mat"):
        decay.update({"b": jnp.zeros(3)}, decay.init(None), {"b": jnp.asarray([0.1, 0.2, 0.3])})
    W = jnp.ones((2, 3))
    np.testing.assert_allclose(decay.update({"W": jnp.zeros((2, 3))}, decay.init(None), {"W": W})[0]["W"],
                               row_decay_direction(W, -1.0))
    with pytest.raises(ValueError, match=r"signed_row_decay needs params; pass them to update\(\)"):
        decay.update({"W": jnp.zeros((2, 3))}, decay.init(None))


# what a mutation review of optim.py found unguarded
def test_signed_row_decay_divides_by_the_row_norm_plus_its_own_eps():
    # kills: signed_row_decay's eps not passed on (row_decay_direction's default 1e-8 used whatever it was given)
    W = jnp.asarray([[3.0, 4.0], [0.0, 0.5]])
    decay = signed_row_decay(-1.0, eps=1.0)
    got = decay.update({"W": jnp.zeros_like(W)}, decay.init(None), {"W": W})[0]["W"]
    np.testing.assert_allclose(got, -np.asarray(W) * np.array([[1 / 6 - 1], [1 / 1.5 - 1]]), rtol=1e-6)


def test_a_schedule_may_decay_to_zero():
    # kills: final_fraction = 0 refused (the range is [0, 1]; TrainConfig takes final_lr_fraction=0.0 and passes it
    # on)
    ours = np.asarray(jax.vmap(warmup_cosine(10, 2, final_fraction=0.0))(jnp.arange(10)))
    np.testing.assert_allclose(ours, [_published_lr(t, 10, 2, min_lr=0.0) for t in range(10)], rtol=2e-6, atol=1e-7)
    assert ours[-1] == pytest.approx(0.0, abs=1e-7)


def test_an_all_zero_row_decays_by_zero_not_nan():
    # eps is added to the row norm before dividing (Eq. 2); 1/0 + eps would give 0 * inf = NaN
    W = jnp.zeros((2, 3)).at[1].set(1.0)
    d = np.asarray(row_decay_direction(W, -1.0))
    assert np.all(np.isfinite(d)) and np.all(d[0] == 0)


@pytest.mark.parametrize("name", ["lr_w", "lr_b", "gamma"])
def test_optimizer_numbers_must_be_single_real_numbers(name):
    # a list gave each column its own rate or decay, a string was read as a number, None failed inside jnp.array
    kw = dict(lr_w=1e-2, lr_b=1e-2, gamma=0.1, steps=10, warmup=2)
    for bad, err, match in (([0.5, 1.0], TypeError, rf"{name} has shape \(2,\); {name} must be one real number"),
                            ("0.1", TypeError, rf"{name}='0.1'; {name} must be a real number"),
                            (None, TypeError, rf"{name}=None; {name} must be a real number"),
                            # (a 0-d array of a dtype that is no real number; mutation check)
                            (np.array(1 + 1j), TypeError, rf"{name}=array\(1.\+1.j\); {name} must be a real number")):
        with pytest.raises(err, match=match):
            superposition_optimizer(**{**kw, name: bad})
    # traced per-model values (vmap over a sweep's models) are still taken
    opt = jax.vmap(lambda g: superposition_optimizer(**{**kw, name: g}).init({"W": jnp.ones((3, 2)),
                                                                               "b": jnp.ones(3)}))
    opt(jnp.asarray([0.1, 0.2]))


def test_a_numpy_bfloat16_rate_is_checked_as_a_number():
    # a numpy bfloat16 scalar is no np.floating: it had been refused as "not a real number" (and before that,
    # passed unchecked). jnp.bfloat16(x) makes a 0-d JAX array, not a numpy scalar: both are tried (mutation check)
    for bf16 in (jnp.bfloat16, lambda x: np.array(x, jnp.bfloat16)[()]):
        with pytest.raises(ValueError, match=r"lr_w=-1.0; lr_w must be finite > 0"):
            superposition_optimizer(lr_w=bf16(-1.0), lr_b=1e-2, gamma=0.1, steps=10, warmup=2)
        superposition_optimizer(lr_w=bf16(0.5), lr_b=1e-2, gamma=0.1, steps=10, warmup=2)
    assert isinstance(np.array(-1.0, jnp.bfloat16)[()], np.generic)


def test_decay_regime_is_the_sign_of_gamma_and_zero_is_neither():
    from toyscale.optim import decay_regime

    assert [decay_regime(g) for g in (-1.0, -1e-9, 0.0, -0.0, 0.1, 1)] == ["strong", "strong", "no decay",
                                                                            "no decay", "weak", "weak"]
    with pytest.raises(ValueError, match="gamma=nan"):
        decay_regime(float("nan"))
    with pytest.raises(TypeError, match="gamma=True; gamma must be a real number"):  # (not 1: mutation check)
        decay_regime(True)


def test_two_adam_steps_match_adam_written_out_down_to_eps():
    # (the one-step check cannot see b1 or b2, which bias correction cancels at step 1, nor eps
    # beside gradients >= 0.05: b2 = 0.99 or eps = 1e-7 had passed; a W gradient of 1e-8, as a
    # rare feature's, meets eps here; mutation check)
    params = {"W": jnp.asarray([[0.3, -0.2], [1.5, 0.5]]), "b": jnp.asarray([0.1, -0.4])}
    g1 = {"W": jnp.asarray([[0.1, 0.2], [-0.3, 1e-8]]), "b": jnp.asarray([0.2, -0.1])}
    g2 = {"W": jnp.asarray([[-0.05, 0.4], [0.1, 2e-8]]), "b": jnp.asarray([-0.3, 0.02])}
    opt = superposition_optimizer(lr_w=1.0, lr_b=1.0, gamma=0.0, steps=10, warmup=0, final_fraction=1.0)
    _, state = opt.update(g1, opt.init(params), params)
    updates, _ = opt.update(g2, state, params)
    for k in ("W", "b"):
        m = 0.1 * 0.9 * g1[k] + 0.1 * g2[k]
        v = 0.001 * 0.999 * g1[k] ** 2 + 0.001 * g2[k] ** 2
        want = -(m / (1 - 0.9**2)) / (jnp.sqrt(v / (1 - 0.999**2)) + 1e-8)
        np.testing.assert_allclose(updates[k], want, rtol=1e-4)
