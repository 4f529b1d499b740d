"""Each optimizer against the update rule PyTorch documents, and its state and members.

The references below are PyTorch's documented pseudo-code transcribed one
scalar parameter at a time, with the step count ``t`` explicit, in plain
Python floats: nothing is shared with matnn's whole-array kernels.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize, rosen, rosen_der

import matnn
from matnn import LBFGS, SGD, Adam, AdamW, Optimizer, data


def assert_close(actual, expected, rtol=1e-12):
    """Equal within ``rtol`` of the larger of 1 and the expected magnitude.

    Relative to the whole array's scale rather than to each entry, so that a
    parameter that happens to land near 0 (where the last bits of
    ``theta - update`` are all that is left) does not fail the comparison.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# -- references: PyTorch's documented algorithms, scalar by scalar ---------------------

def sgd_reference(theta, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """``torch.optim.SGD`` (dampening 0). Returns the parameters and momentum buffers."""
    theta = [float(x) for x in theta]
    b = [None] * len(theta)
    for t, g_t in enumerate(grads, start=1):
        for i in range(len(theta)):
            g = float(g_t[i])
            if weight_decay != 0:
                g = g + weight_decay * theta[i]
            if momentum != 0:
                if t > 1:
                    b[i] = momentum * b[i] + g
                else:
                    b[i] = g
                if nesterov:
                    g = g + momentum * b[i]
                else:
                    g = b[i]
            theta[i] = theta[i] - lr * g
    return theta, b


def adam_reference(theta, grads, lr, betas, eps, weight_decay, decoupled):
    """``torch.optim.Adam`` (``decoupled=False``) or ``AdamW``, amsgrad off.

    Returns the parameters and the moments ``m`` and ``v``.
    """
    beta1, beta2 = betas
    theta = [float(x) for x in theta]
    m = [0.0] * len(theta)
    v = [0.0] * len(theta)
    for t, g_t in enumerate(grads, start=1):
        for i in range(len(theta)):
            g = float(g_t[i])
            if decoupled:
                theta[i] = theta[i] - lr * weight_decay * theta[i]
            elif weight_decay != 0:
                g = g + weight_decay * theta[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            theta[i] = theta[i] - lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta, m, v


def run(opt, theta, grads):
    """Step ``opt`` over ``grads`` from ``theta``; return the final parameters."""
    params = np.array(theta)
    for g in grads:
        opt.step(params, np.array(g))
    return params


# -- strategies -------------------------------------------------------------------------

@st.composite
def trajectories(draw, members=None):
    """Initial parameters and a sequence of gradients, of shape (n,) or (n, members)."""
    n = draw(st.integers(1, 10))
    steps = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (n,) if members is None else (n, members)
    scale = 10.0 ** draw(st.integers(-3, 1))
    return rng.normal(size=shape), scale * rng.normal(size=(steps, *shape))


rates = st.floats(1e-4, 1.0)
decays = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))
betas = st.floats(0.0, 0.999)
epsilons = st.floats(1e-10, 1e-2)


@st.composite
def sgd_settings(draw):
    momentum = draw(st.one_of(st.just(0.0), st.floats(0.01, 0.99)))
    return dict(learning_rate=draw(rates), momentum=momentum,
                nesterov=momentum > 0 and draw(st.booleans()), weight_decay=draw(decays))


@st.composite
def adam_settings(draw):
    return dict(learning_rate=draw(rates), betas=(draw(betas), draw(betas)),
                eps=draw(epsilons), weight_decay=draw(decays))


# -- each rule against its documented formula -------------------------------------------

@settings(max_examples=60)
@given(sgd_settings(), trajectories())
def test_sgd_follows_pytorchs_documented_rule(kw, trajectory):
    theta0, grads = trajectory
    opt = SGD(**kw)
    params = run(opt, theta0, grads)
    theta, b = sgd_reference(theta0, grads, kw["learning_rate"], kw["momentum"],
                             kw["nesterov"], kw["weight_decay"])
    assert_close(params, theta)
    state = opt.state_dict()
    assert state["step"] == len(grads)
    if kw["momentum"]:
        assert_close(state["momentum_buffer"], b)
    else:
        assert "momentum_buffer" not in state


@settings(max_examples=60)
@given(adam_settings(), trajectories(), st.sampled_from([Adam, AdamW]))
def test_adam_and_adamw_follow_pytorchs_documented_rules(kw, trajectory, cls):
    theta0, grads = trajectory
    opt = cls(**kw)
    params = run(opt, theta0, grads)
    theta, m, v = adam_reference(theta0, grads, kw["learning_rate"], kw["betas"], kw["eps"],
                                 kw["weight_decay"], decoupled=cls is AdamW)
    assert_close(params, theta)
    state = opt.state_dict()
    assert state["step"] == len(grads)
    assert_close(state["exp_avg"], m)
    assert_close(state["exp_avg_sq"], v)


def test_plain_sgd_is_the_documents_training_bit_for_bit():
    """fit with SGD(0.1) takes the lesson's per-sample steps exactly, as learning_rate=0.1 does."""
    net = matnn.Network.from_sizes([2, 2, 1], seed=3)
    alone = net.copy()
    net.fit(data.X, data.y, epochs=50, learning_rate=0.1, batch_size=1, shuffle=False)
    alone.fit(data.X, data.y, epochs=50, optimizer=SGD(0.1), batch_size=1, shuffle=False)
    np.testing.assert_array_equal(alone.params, net.params)


def test_adamw_decay_stays_out_of_the_moments():
    """With zero gradients AdamW only shrinks theta by (1 - lr*wd) a step; Adam's
    decay goes through the moments, so each first step has length about lr."""
    theta = np.array([1.0, -2.0, 3.0])
    zeros = np.zeros((4, 3))
    assert_close(run(AdamW(0.1, weight_decay=0.5), theta, zeros), theta * 0.95 ** 4)
    # By hand: g = 0.5 * theta = (0.5, -1, 1.5); m_hat = g and v_hat = g**2, so
    # the step is 0.1 * g / (|g| + 1e-8) = 0.1 * sign(g) / (1 + 1e-8 / |g|).
    assert_close(run(Adam(0.1, weight_decay=0.5), theta, zeros[:1]),
                 [0.9 + 2e-9, -1.9 - 1e-9, 2.9 + 1e-9 / 1.5])


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_weight_decay_alone_matches_torch_optim(cls):
    """Four steps on zero gradients, where the decay is all that moves theta."""
    torch = pytest.importorskip("torch")
    theta = np.array([1.0, -2.0, 3.0])
    q = torch.tensor(theta, requires_grad=True)
    reference = getattr(torch.optim, cls.__name__)([q], lr=0.1, weight_decay=0.5)
    for _ in range(4):
        q.grad = torch.zeros_like(q)
        reference.step()
    assert_close(run(cls(0.1, weight_decay=0.5), theta, np.zeros((4, 3))), q.detach().numpy())


def test_float32_parameters_step_in_float32():
    rng = np.random.default_rng(0)
    theta, grads = rng.normal(size=6), rng.normal(size=(5, 6))
    for opt, (expected, *_) in [
        (SGD(0.1, momentum=0.9), sgd_reference(theta, grads, 0.1, 0.9)),
        (Adam(0.01), adam_reference(theta, grads, 0.01, (0.9, 0.999), 1e-8, 0.0, False)),
    ]:
        params = theta.astype(np.float32)
        for g in grads:
            opt.step(params, g.astype(np.float32))
        assert params.dtype == np.float32
        assert all(b.dtype == np.float32 for k, b in opt.state_dict().items() if k != "step")
        np.testing.assert_allclose(params, expected, rtol=1e-5)



@settings(max_examples=20)
@given(st.data(), trajectories())
def test_each_rule_matches_torch_optim(draw, trajectory):
    torch = pytest.importorskip("torch")
    theta0, grads = trajectory
    cls = draw.draw(st.sampled_from([SGD, Adam, AdamW]))
    if cls is SGD:
        kw = draw.draw(sgd_settings())
        make = lambda q: torch.optim.SGD(  # noqa: E731
            [q], lr=kw["learning_rate"], momentum=kw["momentum"], nesterov=kw["nesterov"],
            weight_decay=kw["weight_decay"])
    else:
        kw = draw.draw(adam_settings())
        make = lambda q: getattr(torch.optim, cls.__name__)(  # noqa: E731
            [q], lr=kw["learning_rate"], betas=kw["betas"], eps=kw["eps"],
            weight_decay=kw["weight_decay"])
    q = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    reference = make(q)
    for g in grads:
        q.grad = torch.tensor(g, dtype=torch.float64)
        reference.step()
    assert_close(run(cls(**kw), theta0, grads), q.detach().numpy())


# -- ensembles: one value per member ------------------------------------------------------

@st.composite
def per_member(draw, values, k):
    """One value for every member, or one array of a value per member."""
    if draw(st.booleans()):
        return draw(values)
    return np.array(draw(st.lists(values, min_size=k, max_size=k)))


@settings(max_examples=40)
@given(st.data(), st.integers(1, 4))
def test_per_member_hyperparameters_equal_each_member_alone(draw, k):
    theta0, grads = draw.draw(trajectories(members=k))
    cls = draw.draw(st.sampled_from([SGD, Adam, AdamW]))
    if cls is SGD:
        momentum = draw.draw(per_member(st.floats(0.01, 0.99), k))
        kw = dict(learning_rate=draw.draw(per_member(rates, k)), momentum=momentum,
                  nesterov=draw.draw(st.booleans()),
                  weight_decay=draw.draw(per_member(decays, k)))
    else:
        kw = dict(learning_rate=draw.draw(per_member(rates, k)),
                  betas=(draw.draw(per_member(betas, k)), draw.draw(per_member(betas, k))),
                  eps=draw.draw(per_member(epsilons, k)),
                  weight_decay=draw.draw(per_member(decays, k)))
    together = run(cls(**kw), theta0, grads)
    for member in range(k):
        alone = cls(**member_kwargs(kw, member))
        assert_close(together[:, member], run(alone, theta0[:, member], grads[:, :, member]))


def member_kwargs(kw, member):
    """The keyword arguments of one member alone."""
    def pick(v):
        if isinstance(v, tuple):
            return tuple(pick(x) for x in v)
        return float(v[member]) if isinstance(v, np.ndarray) else v
    return {name: pick(v) for name, v in kw.items()}


def test_select_and_merge_freeze_some_members_and_train_the_rest():
    """Members dropped by select() keep their state; the others continue where they were."""
    rng = np.random.default_rng(1)
    theta0, grads = rng.normal(size=(5, 4)), rng.normal(size=(7, 5, 4))
    rates = np.array([0.01, 0.02, 0.03, 0.04])
    opt = Adam(rates, betas=(0.8, np.array([0.9, 0.99, 0.999, 0.95])))
    params = run(opt, theta0, grads[:3])
    keep = np.array([True, False, True, True])
    sub = opt.select(keep)
    assert sub.n_members == 3
    np.testing.assert_array_equal(sub.learning_rate, rates[keep])
    sub_params = run(sub, params[:, keep], grads[3:5, :, keep])
    opt.merge(keep, sub)
    params[:, keep] = sub_params
    np.testing.assert_array_equal(opt.state_dict()["step"], [5, 3, 5, 5])
    # Two more steps of everyone: member 1 takes its steps 4 and 5, the
    # others their 6 and 7.
    params = run(opt, params, grads[5:])
    for member in range(4):
        alone = Adam(rates[member], betas=(0.8, float(opt.betas[1][member])))
        seen = [0, 1, 2, 5, 6] if member == 1 else range(7)
        expected = run(alone, theta0[:, member], grads[seen, :, member])
        assert_close(params[:, member], expected)


def test_select_copies_the_state():
    opt = SGD(0.1, momentum=0.9)
    params = run(opt, np.ones((3, 2)), np.ones((2, 3, 2)))
    before = opt.state_dict()
    sub = opt.select(np.array([True, False]))
    run(sub, params[:, :1], np.ones((3, 3, 1)))
    np.testing.assert_array_equal(opt.state_dict()["momentum_buffer"], before["momentum_buffer"])


def test_merge_into_a_fresh_optimizer_allocates_the_others_as_unstarted():
    opt = SGD(np.array([0.1, 0.2, 0.3]), momentum=0.5)
    keep = np.array([False, True, True])
    sub = opt.select(keep)
    run(sub, np.zeros((2, 2)), np.ones((3, 2, 2)))
    opt.merge(keep, sub)
    state = opt.state_dict()
    np.testing.assert_array_equal(state["step"], [0, 3, 3])
    np.testing.assert_array_equal(state["momentum_buffer"][:, 0], [0, 0])
    np.testing.assert_array_equal(state["momentum_buffer"][:, 1:], sub.state_dict()["momentum_buffer"])


def test_plain_sgd_members_merge_their_step_counts():
    opt = SGD(0.1)
    run(opt, np.zeros((2, 3)), np.ones((1, 2, 3)))
    keep = np.array([True, False, True])
    sub = opt.select(keep)
    run(sub, np.zeros((2, 2)), np.ones((2, 2, 2)))
    opt.merge(keep, sub)
    np.testing.assert_array_equal(opt.state_dict()["step"], [3, 1, 3])


def test_the_base_class_is_not_an_optimizer_itself():
    with pytest.raises(TypeError, match="abstract class Optimizer"):
        Optimizer()


def test_select_and_merge_refuse_bad_masks_and_partners():
    opt = SGD(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"keep must have shape \(2,\)"):
        opt.select(np.array([True, False, True]))
    with pytest.raises(TypeError, match="boolean mask"):
        opt.select([1, 0])
    with pytest.raises(TypeError, match="other must be a SGD"):
        opt.merge(np.array([True, True]), Adam())
    network = Adam()
    run(network, np.zeros(3), np.ones((1, 3)))
    with pytest.raises(ValueError, match="needs an ensemble's optimizer"):
        network.select(np.array([True]))
    stepped = SGD(0.1, momentum=0.9)
    run(stepped, np.zeros((3, 2)), np.ones((1, 3, 2)))
    other = SGD(0.1, momentum=0.9)
    run(other, np.zeros((4, 1)), np.ones((1, 4, 1)))
    with pytest.raises(ValueError, match=r"need shape \(3, 1\)"):
        stepped.merge(np.array([True, False]), other)


# -- state: resuming, saving, resetting ---------------------------------------------------

OPTIMIZERS = [
    lambda: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: SGD(0.05),
    lambda: Adam(0.01, weight_decay=0.01),
    lambda: AdamW(0.01),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
@pytest.mark.parametrize("shape", [(6,), (6, 3)])
def test_five_steps_then_five_more_equal_ten(make, shape):
    """The same object in two runs (two parameter and gradient buffers) continues."""
    rng = np.random.default_rng(2)
    theta0, grads = rng.normal(size=shape), rng.normal(size=(10, *shape))
    once = run(make(), theta0, grads)
    opt = make()
    twice = run(opt, run(opt, theta0, grads[:5]), grads[5:])
    np.testing.assert_array_equal(twice, once)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_state_dict_round_trip_resumes_exactly(make):
    rng = np.random.default_rng(3)
    theta0, grads = rng.normal(size=(4, 2)), rng.normal(size=(10, 4, 2))
    once = run(make(), theta0, grads)
    first = make()
    halfway = run(first, theta0, grads[:5])
    second = make()
    second.load_state_dict(first.state_dict())
    np.testing.assert_array_equal(run(second, halfway, grads[5:]), once)


def test_state_dict_holds_copies_of_plain_values():
    opt = SGD(0.1, momentum=0.9)
    assert opt.state_dict() == {}
    params = run(opt, np.zeros(3), np.ones((2, 3)))
    state = opt.state_dict()
    assert type(state["step"]) is int and state["step"] == 2
    state["momentum_buffer"][:] = 99.0
    np.testing.assert_array_equal(opt.state_dict()["momentum_buffer"], 1.9)
    copy = opt.copy()
    run(copy, params, np.ones((1, 3)))
    assert opt.state_dict()["step"] == 2


def test_reset_forgets_the_state_and_the_layout():
    opt = Adam()
    run(opt, np.zeros(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match="belongs to one network"):
        opt.step(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="belongs to one network"):
        opt.step(np.zeros(3, np.float32), np.ones(3, np.float32))
    opt.reset()
    assert opt.state_dict() == {}
    fresh = run(Adam(), np.zeros(4), np.ones((1, 4)))
    np.testing.assert_array_equal(run(opt, np.zeros(4), np.ones((1, 4))), fresh)


def test_plain_sgd_state_is_its_step_count_and_still_binds_one_layout():
    opt = SGD(0.1)
    run(opt, np.zeros((3, 2)), np.ones((1, 3, 2)))
    state = opt.state_dict()
    np.testing.assert_array_equal(state["step"], [1, 1])
    with pytest.raises(ValueError, match="belongs to one network"):
        opt.step(np.zeros(3), np.ones(3))
    loaded = SGD(0.1)
    loaded.load_state_dict(state)
    with pytest.raises(ValueError, match="step counts for 2 members"):
        loaded.step(np.zeros(3), np.ones(3))


def test_load_state_dict_refuses_what_state_dict_cannot_give():
    opt = Adam()
    with pytest.raises(ValueError, match=r"missing \['exp_avg_sq'\]"):
        opt.load_state_dict({"step": 1, "exp_avg": np.zeros(3)})
    with pytest.raises(ValueError, match=r"unexpected \['momentum_buffer'\]"):
        opt.load_state_dict({"step": 1, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3),
                             "momentum_buffer": np.zeros(3)})
    with pytest.raises(ValueError, match="does not fit the step counts"):
        opt.load_state_dict({"step": 1, "exp_avg": np.zeros((3, 2)), "exp_avg_sq": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="differ in shape or dtype"):
        opt.load_state_dict({"step": 1, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(4)})
    with pytest.raises(ValueError, match="state\\['step'\\] must be >= 0"):
        opt.load_state_dict({"step": -1, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)})
    with pytest.raises(TypeError, match="must be a dict"):
        opt.load_state_dict([("step", 1)])
    with pytest.raises(ValueError, match="for 2 members"):
        Adam(np.array([0.1, 0.2])).load_state_dict(
            {"step": np.array([1, 1, 1]), "exp_avg": np.zeros((3, 3)), "exp_avg_sq": np.zeros((3, 3))})


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: SGD(-0.1), ValueError, "learning_rate must be a finite number > 0"),
    (lambda: SGD(0), ValueError, "learning_rate must be a finite number > 0"),
    (lambda: SGD(float("nan")), ValueError, "learning_rate must be a finite number"),
    (lambda: SGD(True), TypeError, "learning_rate must be a real number"),
    (lambda: SGD("0.1"), TypeError, "learning_rate must be a real number"),
    (lambda: SGD(0.1, momentum=-0.5), ValueError, "momentum must be a finite number >= 0"),
    (lambda: SGD(0.1, nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (lambda: SGD(0.1, momentum=np.array([0.9, 0.0]), nesterov=True), ValueError,
     "nesterov=True needs momentum > 0"),
    (lambda: SGD(0.1, nesterov=1), TypeError, "nesterov must be True or False"),
    (lambda: SGD(0.1, weight_decay=-1e-4), ValueError, "weight_decay must be a finite number >= 0"),
    (lambda: SGD([0.1, -0.2]), ValueError, r"learning_rate\[1\] must be a finite number > 0"),
    (lambda: SGD([True, False]), TypeError, "learning_rate must hold real numbers"),
    (lambda: SGD(np.zeros((2, 2)) + 0.1), ValueError, r"one per member, shape \(n_members,\)"),
    (lambda: SGD([0.1, 0.2], momentum=[0.1, 0.2, 0.3]), ValueError,
     "learning_rate has 2, momentum has 3"),
    (lambda: Adam(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be a finite number >= 0.0 and < 1.0"),
    (lambda: Adam(betas=(-0.1, 0.999)), ValueError, r"betas\[0\] must be"),
    (lambda: Adam(betas=0.9), TypeError, "betas must be a pair"),
    (lambda: Adam(betas=(0.9, 0.99, 0.999)), ValueError, "betas must be a pair"),
    (lambda: Adam(eps=0.0), ValueError, "eps must be a finite number > 0"),
    (lambda: AdamW(weight_decay=-0.01), ValueError, "weight_decay must be"),
    (lambda: AdamW(learning_rate=None), TypeError, "learning_rate must be a real number"),
    (lambda: LBFGS(max_iter=0), ValueError, "max_iter must be >= 1"),
    (lambda: LBFGS(max_iter=10.0), TypeError, "max_iter must be an integer"),
    (lambda: LBFGS(tol=-1e-5), ValueError, "tol must be a finite number >= 0"),
    (lambda: LBFGS(tol=[1e-5, 1e-6]), TypeError, "tol must be one number"),
])
def test_bad_hyperparameters_are_refused_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_check_refuses_params_the_optimizer_cannot_update():
    per_member = SGD(np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"per member for 3 members.*shape \(n_params, 3\)"):
        per_member.check(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="per member for 3 members"):
        per_member.check(np.zeros(5))
    per_member.check(np.zeros((5, 3)))
    with pytest.raises(TypeError, match="float32 or float64"):
        SGD(0.1).check(np.zeros(3, int))
    with pytest.raises(TypeError, match="numpy array"):
        SGD(0.1).check([0.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(n_params,\) or \(n_params, n_members\)"):
        SGD(0.1).check(np.zeros((2, 2, 2)))
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD(0.1).check(frozen)


def test_a_rate_that_rounds_to_zero_in_float32_is_refused():
    with pytest.raises(ValueError, match="learning_rate=1e-50 rounds to 0 in float32"):
        SGD(1e-50).step(np.zeros(3, np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="eps=1e-50 rounds to 0 in float32"):
        Adam(eps=1e-50).check(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"learning_rate\[1\]=1e-50 rounds to 0"):
        SGD(np.array([0.1, 1e-50])).check(np.zeros((3, 2), np.float32))
    SGD(1e-50).check(np.zeros(3))


def test_grad_must_be_a_separate_buffer_of_params_layout():
    params = np.zeros(3)
    with pytest.raises(ValueError, match=r"grad must be an array of params' shape \(3,\)"):
        SGD(0.1).step(params, np.ones(1))
    with pytest.raises(ValueError, match="grad must be an array"):
        SGD(0.1).step(params, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="of its own"):
        SGD(0.1).step(params, params)


def test_repr_shows_the_hyperparameters():
    assert repr(SGD(0.1, momentum=0.9)) == (
        "SGD(learning_rate=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)")
    assert repr(Adam([0.1, 0.2])) == (
        "Adam(learning_rate=[0.1, 0.2], betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)")
    assert repr(LBFGS()) == "LBFGS(max_iter=200, tol=1e-05)"
    assert isinstance(AdamW(), Optimizer) and isinstance(LBFGS(), Optimizer)
    assert LBFGS.full_batch and not AdamW.full_batch


# -- L-BFGS ----------------------------------------------------------------------------------

def rosen_and_grad(x):
    return rosen(x), rosen_der(x)


@pytest.mark.parametrize("max_iter, tol", [(200, 1e-5), (5, 1e-5), (200, 0.0)])
def test_lbfgs_stops_where_scipy_stops(max_iter, tol):
    x0 = np.array([-1.2, 1.0, 0.5, -0.3])
    seen = []
    direct = minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B",
                      callback=lambda xk: seen.append(rosen(xk)),
                      options={"maxiter": max_iter, "gtol": tol})
    result = LBFGS(max_iter=max_iter, tol=tol).minimize(rosen_and_grad, x0)
    np.testing.assert_array_equal(result.x, direct.x)
    np.testing.assert_array_equal(result.loss, seen)
    assert (result.success, result.message, result.nit, result.nfev) == (
        direct.success, direct.message, direct.nit, direct.nfev)
    assert result.nit == len(result.loss) <= max_iter


def test_lbfgs_reaches_a_small_gradient_on_a_smooth_problem():
    result = LBFGS().minimize(rosen_and_grad, np.zeros(5))
    assert result.success
    np.testing.assert_allclose(result.x, np.ones(5), atol=1e-4)


def test_lbfgs_callback_sees_every_iteration_and_can_stop_it():
    calls = []

    def callback(iteration, loss, x):
        calls.append((iteration, loss, rosen(x)))
        return iteration == 3

    result = LBFGS().minimize(rosen_and_grad, np.zeros(3), callback=callback)
    assert [i for i, *_ in calls] == [0, 1, 2, 3]
    assert [loss for _, loss, _ in calls] == [f for *_, f in calls] == list(result.loss)
    assert not result.success and "StopIteration" in result.message


def test_lbfgs_copies_a_gradient_buffer_that_fun_reuses():
    buffer = np.empty(3)

    def reusing(x):
        buffer[:] = rosen_der(x)
        return rosen(x), buffer

    x0 = np.array([-1.0, 2.0, 0.5])
    np.testing.assert_array_equal(LBFGS().minimize(reusing, x0).x,
                                  LBFGS().minimize(rosen_and_grad, x0).x)


def test_lbfgs_refuses_bad_arguments_and_has_no_state():
    opt = LBFGS()
    with pytest.raises(TypeError, match="fun must be callable"):
        opt.minimize(None, np.zeros(2))
    with pytest.raises(ValueError, match="x0 must be a flat vector"):
        opt.minimize(rosen_and_grad, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="gradient of shape"):
        opt.minimize(lambda x: (0.0, np.zeros(3)), np.zeros(2))
    with pytest.raises(TypeError, match="callback must be callable"):
        opt.minimize(rosen_and_grad, np.zeros(2), callback=1)
    assert opt.state_dict() == {}
    opt.load_state_dict({})
    with pytest.raises(ValueError, match="no state"):
        opt.load_state_dict({"step": 1})
