"""gradcheck itself: it passes correct ops and, above all, catches wrong ones."""

import warnings

import numpy as np
import pytest

import stn_np
from stn_np import Function, GradcheckError, Tensor, analytical_jacobian, gradcheck, gradcheck_report, numerical_jacobian


class WrongBackward(Function):
    """z = x**3 with a deliberately wrong backward (2x**2 instead of 3x**2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g * 2 * x**2


class IgnoresUpstream(Function):
    """z = sum(x**2) with a backward that forgets to multiply by g."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sum(x**2)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return 2 * x


class IgnoresUpstreamElementwise(Function):
    """z = sin(x) with a backward that returns cos(x) whatever the upstream gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return np.cos(x)


def test_numerical_and_analytical_jacobians_agree_on_a_known_function(rng):
    x = rng.standard_normal(3)
    A = rng.standard_normal((2, 3))
    fn = lambda t: Tensor(A) @ t
    num = numerical_jacobian(fn, (x,))
    ana = analytical_jacobian(fn, (x,))
    np.testing.assert_allclose(num[0][0], A, atol=1e-9)
    np.testing.assert_allclose(ana[0][0], A, atol=1e-15)


def test_multiple_outputs_and_mixed_inputs(rng):
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    fn = lambda a, b, k: (a * b * k, (a + b).sum(axis=0))
    assert gradcheck(fn, (x, y, 3))
    assert gradcheck(fn, (x, y, 3), mode="directional")
    num = numerical_jacobian(fn, (x, y, 3))
    assert len(num) == 2 and len(num[0]) == 2
    assert num[0][0].shape == (6, 6) and num[1][1].shape == (3, 3)


def test_constant_tensor_inputs_are_not_differentiated(rng):
    x = rng.standard_normal(4)
    c = Tensor(rng.standard_normal(4))
    jac = numerical_jacobian(lambda a, b: a * b, (x, c))
    assert len(jac[0]) == 1
    np.testing.assert_allclose(jac[0][0], np.diag(c.data), atol=1e-9)


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_catches_a_wrong_backward(mode, rng):
    x = rng.uniform(0.5, 1.5, (2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongBackward.apply, (x,), mode=mode)
    report = str(info.value)
    assert "output 0" in report and "input 0" in report
    assert "numerical" in report and "analytical" in report
    assert "max abs error" in report and "max rel error" in report
    assert gradcheck(WrongBackward.apply, (x,), mode=mode, raise_exception=False) is False


def test_report_names_the_worst_element(rng):
    x = np.array([0.1, 2.0, 0.3])  # the error 3x**2 - 2x**2 = x**2 is largest at index 1
    with pytest.raises(GradcheckError, match=r"output element \(1,\), input element \(1,\): numerical 12, analytical 8"):
        gradcheck(WrongBackward.apply, (x,))


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_catches_a_backward_that_ignores_the_upstream_gradient(mode, rng):
    x = rng.standard_normal((2, 3))
    # With a scalar output the one-hot Jacobian seed is 1, so only the random upstream
    # gradient can reveal the bug.
    with pytest.raises(GradcheckError, match="random upstream gradient|directional"):
        gradcheck(IgnoresUpstream.apply, (x,), mode=mode)
    with pytest.raises(GradcheckError):
        gradcheck(IgnoresUpstreamElementwise.apply, (x,), mode=mode)


def test_catches_a_missing_gradient(rng):
    class Forgets(Function):
        """z = x * y whose backward returns nothing for y."""

        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_arrays
            return g * y, None

    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(Forgets.apply, (rng.standard_normal(3), rng.standard_normal(3)))


def test_warns_about_float32_inputs():
    x = np.ones(3, np.float32)
    with pytest.warns(UserWarning, match="float32"):
        gradcheck(lambda t: t * 2.0, (x,), eps=1e-2, atol=1e-3, rtol=1e-2)


def test_no_warning_for_float64():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda t: t * 2.0, (np.ones(3),))


def test_argument_errors():
    with pytest.raises(ValueError, match="gradcheck: mode: expected one of 'full', 'directional', got 'fast'"):
        gradcheck(lambda t: t, (np.ones(2),), mode="fast")
    with pytest.raises(ValueError, match="gradcheck: inputs: expected at least one differentiable input"):
        gradcheck(lambda n: Tensor(np.ones(n)), (3,))
    with pytest.raises(ValueError, match=r"gradcheck: atol: expected a finite number >= 0, got -1.0"):
        gradcheck(lambda t: t, (np.ones(2),), atol=-1)  # the argument is named, not the op
    with pytest.raises(ValueError, match=r"gradcheck: eps: expected a finite number > 0"):
        gradcheck(lambda t: t, (np.ones(2),), eps=0)
    with pytest.raises(TypeError, match="gradcheck: fn: expected a callable"):
        gradcheck("not a function", (np.ones(2),))
    with pytest.raises(TypeError, match="gradcheck: inputs: expected a tuple or list of arguments"):
        gradcheck(lambda t: t, None)
    with pytest.raises(ValueError, match="numerical_jacobian: eps: expected a finite number > 0, got nan"):
        numerical_jacobian(lambda t: t, (np.ones(2),), eps=float("nan"))
    with pytest.raises(TypeError, match="gradcheck: fn: expected a function returning a Tensor or a tuple of Tensors, got output 0 of type ndarray"):
        gradcheck(lambda t: t.data, (np.ones(2),))


def test_directional_mode_scales_to_large_inputs(rng):
    x = rng.standard_normal((64, 64))
    w = rng.standard_normal((64, 64))
    assert gradcheck(lambda a, b: (a @ b).tanh(), (x, w), mode="directional")


def test_public_reexports():
    assert stn_np.gradcheck is gradcheck
    assert callable(stn_np.gradcheck_report)


class _Stateful(Function):
    """z = 2 x, but its backward returns a different gradient each call (hidden state)."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        _Stateful.calls += 1
        return 2 * g * (1 + 1e-3 * _Stateful.calls)


class _IgnoresUpstream(Function):
    """z = x**2 summed per row, with a backward that uses sign(g) instead of g."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x * x).sum(axis=1)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return 2 * x * np.sign(g)[:, None]


def test_reentrancy_check_catches_a_backward_with_hidden_state(rng):
    comparisons = gradcheck_report(_Stateful.apply, (rng.standard_normal(4),), atol=1, rtol=1)
    failed = {c.what for c in comparisons if not c.ok}
    assert failed == {"reentrant backward"}  # within the loose tolerances, only reentrancy fails


def test_linearity_check_catches_a_backward_that_does_not_scale_with_g(rng):
    x = rng.standard_normal((3, 4))
    comparisons = gradcheck_report(_IgnoresUpstream.apply, (x,))
    by_kind = {c.what: c.ok for c in comparisons}
    assert by_kind["linear in the upstream gradient"] is False
    assert by_kind["reentrant backward"] is True
    # and a correct op passes both
    good = gradcheck_report(lambda t: (t * t).sum(axis=1), (x,))
    assert all(c.ok for c in good) and {"reentrant backward", "linear in the upstream gradient"} <= {c.what for c in good}
