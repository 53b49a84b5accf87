"""Tests and smoke-check for exercise init (course 4.6-4.7): Xavier initialisation.

No test needs the reference solution. The visible tests compare the learner's numbers with closed forms (the bound
a = gain·√(6 / (fan_in + fan_out)), the std gain·√(2 / (fan_in + fan_out))); the hidden ones compare the learner's
function with itself (a conv shape against the 2-D shape with the same fans, gain = g against gain = 1), so that a
mistake in the formula costs only the test that checks the formula.

Everything is random, so every test is statistical: it seeds torch (in the grader and in the sandbox) first and
draws tens of thousands of values, and it accepts what lies within 5 standard errors of the expected value (for a
mean, a variance, a fraction) or, for the ends of a uniform sample, within a margin that n values miss with
probability below e^-20.
"""

import math

import torch

from tutor.grading import N_, Grader, TestFailure, check_type, describe

grader = Grader("init")

FUNCTIONS = ("xavier_uniform", "xavier_normal")
SHAPE_TEST = "a float32 tensor of exactly the requested shape"
K = 5.0  # how many standard errors a statistic may stray


def fans(shape):
    """(fan_in, fan_out) as PyTorch counts them for a weight of `shape` = (out, in, *kernel)."""
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def draw(ctx, name, shape, **kwargs):
    """The learner's `name`(shape, **kwargs) as float64 values on the CPU, flattened. Only the values matter here:
    the shape and the dtype are the business of the test SHAPE_TEST, so a transposed or float64 result is accepted
    as long as it has the right number of elements."""
    fn = ctx.fn(name)
    got = fn(shape, **kwargs)
    what = fn.describe(shape, **kwargs)
    check_type(got, what)
    if got.numel() != math.prod(shape):
        raise TestFailure("{call} returned {got}, which has {numel} elements; a weight of shape {shape} has {expected}. "
                          "Fix the test \"{test}\" first; this test needs the right number of values.", call=what,
                          got=describe(got), numel=got.numel(), shape=str(tuple(shape)), expected=math.prod(shape),
                          test=SHAPE_TEST)
    values = got.detach().to("cpu", torch.float64).reshape(-1)
    if not bool(torch.isfinite(values).all()):
        raise TestFailure("{call} returned NaN or infinite values: a weight must be finite.", call=what)
    return values, what


def matches(observed, expected, rel):
    return expected > 0 and abs(observed / expected - 1.0) <= rel


# -- the shape, the dtype -------------------------------------------------------------------------------------------

@grader.test("a float32 tensor of exactly the requested shape", points=1)  # SHAPE_TEST, spelled out for the catalog
def shape_and_dtype(ctx):
    """Both functions, for nn.Linear shapes (non-square, so that a transposed result shows, and one given as a list)
    and conv shapes (2-D, 1-D, a 1x1 kernel): the result is a torch.Tensor of exactly that shape, float32."""
    ctx.seed(1)
    shapes = [(3, 5), [7, 2], (1, 6), (64, 32, 3, 3), (8, 4, 5), (6, 3, 1, 1)]
    for name in FUNCTIONS:
        fn = ctx.fn(name)
        for shape in shapes:
            got = fn(shape)
            what = fn.describe(shape)
            check_type(got, what)
            want = tuple(shape)
            swapped = (want[1], want[0], *want[2:])
            if tuple(got.shape) == swapped and swapped != want:
                raise TestFailure("{call} returned shape {got_shape}; expected {shape}, the transpose. PyTorch stores "
                                  "the weight of nn.Linear(fan_in, fan_out) as (fan_out, fan_in), out_features first "
                                  "(and a conv weight as (out, in, kh, kw)), so shape[0] is the fan-OUT and shape[1] "
                                  "the fan-IN. The book's scratch MLP keeps W as (inputs, outputs) for X @ W; "
                                  "nn.Linear computes X @ W.T. Return a tensor of `shape` itself: Xavier's scale is "
                                  "symmetric in the two fans, so only the layout was wrong.", call=what,
                                  got_shape=str(tuple(got.shape)), shape=str(want), mistake="init.fans_swapped")
            if tuple(got.shape) != want:
                raise TestFailure("{call} returned shape {got_shape}; expected {shape}: the weight has exactly the "
                                  "shape it is asked for, conv kernels included.", call=what,
                                  got_shape=str(tuple(got.shape)), shape=str(want))
            if got.dtype != torch.float32:
                raise TestFailure("{call} returned dtype {dtype}; expected torch.float32, PyTorch's default and the "
                                  "dtype of nn.Linear's weights. Create the tensor with torch's own factories "
                                  "(torch.rand, torch.randn, torch.empty) without a dtype, not from NumPy or Python's "
                                  "random module.", call=what, dtype=str(got.dtype))


# -- xavier_uniform: the bound ----------------------------------------------------------------------------------------

UNIFORM_SHAPES = [(100, 400), (250, 40)]  # fan_out != fan_in in both, and one fan larger in each: a one-fan formula
#                                           gives a different bound in each shape


def uniform_suspects(fan_in, fan_out):
    """Bounds that known mistakes give, for a gain of 1: (bound, mistake id, what was done)."""
    s = fan_in + fan_out
    return [
        (math.sqrt(1.0 / s), "init.uniform_constant",
         N_("  Your bound is √(1 / (fan_in + fan_out)): the 6 is missing.")),
        (math.sqrt(2.0 / s), "init.uniform_constant",
         N_("  Your bound is √(2 / (fan_in + fan_out)), the normal's standard deviation: the uniform's constant is 6, "
            "not 2 (a uniform on [-a, a] has variance a² / 3, so a = √3 · std).")),
        (math.sqrt(3.0 / s), "init.uniform_constant",
         N_("  Your bound is √(3 / (fan_in + fan_out)): the constant is 6, not 3.")),
        (math.sqrt(6.0 / fan_in), "init.one_fan",
         N_("  Your bound is √(6 / fan_in), He's uniform bound: Xavier averages both fans.")),
        (math.sqrt(3.0 / fan_in), "init.one_fan",
         N_("  Your bound is √(3 / fan_in), LeCun's uniform bound: Xavier averages both fans.")),
        (math.sqrt(6.0 / fan_out), "init.one_fan",
         N_("  Your bound is √(6 / fan_out), one fan only: Xavier uses both.")),
        (math.sqrt(3.0 / fan_out), "init.one_fan",
         N_("  Your bound is √(3 / fan_out), one fan only: Xavier uses both.")),
        (6.0 / s, "init.missing_sqrt",
         N_("  Your bound is 6 / (fan_in + fan_out): the square root is missing.")),
    ]


@grader.test("xavier_uniform fills [-a, a] evenly, a = gain·√(6 / (fan_in + fan_out))", points=2)
def uniform_bound(ctx):
    """For shapes (100, 400) and (250, 40), 40,000 and 10,000 values: none beyond ±a; the smallest below -0.995·a and
    the largest above 0.995·a (n uniform values all miss the top 0.25 % of the range with probability
    (1 - 0.0025)^n < e^-25); the mean within 5 standard errors (a / √(3n)) of 0; the variance within 5 standard
    errors (a²/3 · √(0.8 / n)) of a² / 3."""
    ctx.seed(2)
    for shape in UNIFORM_SHAPES:
        v, what = draw(ctx, "xavier_uniform", shape)
        n = v.numel()
        fan_in, fan_out = fans(shape)
        a = math.sqrt(6.0 / (fan_in + fan_out))
        lo, hi = float(v.min()), float(v.max())
        mean, var = float(v.mean()), float(v.var())
        params = dict(call=what, fan_in=fan_in, fan_out=fan_out, a=a, lo=lo, hi=hi)
        if lo >= 0.0:
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) returned values from {lo:.4f} to "
                              "{hi:.4f}: none is negative. Xavier's uniform is centred on 0, on [-a, a] with "
                              "a = {a:.4f}; torch.rand gives [0, 1), so multiplying it by a gives [0, a). Stretch and "
                              "shift it: 2·a·U - a (or draw with .uniform_(-a, a) on a new tensor).",
                              mistake="init.uniform_not_centred", **params)
        half = (hi - lo) / 2.0
        inside = lo >= -a * (1 + 1e-5) and hi <= a * (1 + 1e-5)
        reached = lo <= -0.995 * a and hi >= 0.995 * a
        if not (inside and reached):
            for bound, mistake, done in uniform_suspects(fan_in, fan_out):
                if matches(half, bound, 0.01):
                    raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) returned values from {lo:.4f} "
                                      "to {hi:.4f}, so its bound is {half:.4f}; Xavier's is a = √(6 / (fan_in + "
                                      "fan_out)) = {a:.4f}.", half=half, mistake=mistake, parts=[TestFailure(done)],
                                      **params)
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) returned values from {lo:.4f} to "
                              "{hi:.4f}; expected them to fill [-a, a] with a = √(6 / (fan_in + fan_out)) = {a:.4f}: "
                              "none beyond ±a, and the extremes within 0.5 % of ±a.", **params)
        se_mean = a / math.sqrt(3.0 * n)
        if abs(mean) > K * se_mean:
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) has mean {mean:.5f}; expected 0 ± "
                              "{tol:.5f} (5 standard errors). The values fill [-a, a] but lean to one side: every "
                              "value must be uniform on the whole interval.", mean=mean, tol=K * se_mean, **params)
        target = a * a / 3.0
        se_var = target * math.sqrt(0.8 / n)
        if abs(var - target) > K * se_var:
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) has variance {var:.6f}; a uniform "
                              "distribution on [-a, a] has a²/3 = {target:.6f} (± {tol:.6f}, 5 standard errors). The "
                              "range is right but the values are not spread evenly over it: draw them with torch.rand "
                              "(uniform), not torch.randn, and transform them linearly.", var=var, target=target,
                              tol=K * se_var, **params)


# -- xavier_normal: the standard deviation ----------------------------------------------------------------------------

def normal_suspects(fan_in, fan_out):
    """Standard deviations that known mistakes give, for a gain of 1: (std, mistake id, what was done)."""
    s = fan_in + fan_out
    return [
        (math.sqrt(1.0 / s), "init.normal_constant",
         N_("  Yours is √(1 / (fan_in + fan_out)): the 2 is missing.")),
        (math.sqrt(6.0 / s), "init.normal_constant",
         N_("  Yours is √(6 / (fan_in + fan_out)), the uniform's bound: the normal's constant is 2, not 6.")),
        (math.sqrt(1.0 / fan_in), "init.one_fan",
         N_("  Yours is √(1 / fan_in), LeCun's: Xavier averages both fans.")),
        (math.sqrt(2.0 / fan_in), "init.one_fan",
         N_("  Yours is √(2 / fan_in), He's (Kaiming's): Xavier averages both fans.")),
        (math.sqrt(1.0 / fan_out), "init.one_fan",
         N_("  Yours is √(1 / fan_out), one fan only: Xavier uses both.")),
        (math.sqrt(2.0 / fan_out), "init.one_fan",
         N_("  Yours is √(2 / fan_out), one fan only: Xavier uses both.")),
        (2.0 / s, "init.missing_sqrt",
         N_("  Yours is 2 / (fan_in + fan_out), the variance: torch.randn(...) * std needs the standard deviation, "
            "its square root.")),
    ]


@grader.test("xavier_normal has mean 0 and std gain·√(2 / (fan_in + fan_out))", points=2)
def normal_std(ctx):
    """For shapes (100, 400) and (250, 40): the mean within 5 standard errors (σ / √n) of 0, the variance within 5
    standard errors (σ² · √(2 / n)) of σ² = 2 / (fan_in + fan_out), and the fraction of values beyond 2σ within 5
    binomial standard errors of a normal distribution's 4.55 %."""
    ctx.seed(3)
    tail_p = math.erfc(2.0 / math.sqrt(2.0))  # P(|Z| > 2) = 0.0455
    for shape in UNIFORM_SHAPES:
        v, what = draw(ctx, "xavier_normal", shape)
        n = v.numel()
        fan_in, fan_out = fans(shape)
        std = math.sqrt(2.0 / (fan_in + fan_out))
        mean, var = float(v.mean()), float(v.var())
        got_std = math.sqrt(var)
        params = dict(call=what, fan_in=fan_in, fan_out=fan_out, std=std, got_std=got_std, mean=mean)
        se_mean = std / math.sqrt(n)
        if abs(mean) > K * se_mean and got_std > 0:
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) has mean {mean:.5f} (std {got_std:.5f}); "
                              "expected 0 ± {tol:.5f} (5 standard errors). Xavier's normal is centred on 0: draw with "
                              "torch.randn (mean 0) and only multiply by the standard deviation.", tol=K * se_mean,
                              **params)
        target = std * std
        se_var = target * math.sqrt(2.0 / n)
        if abs(var - target) > K * se_var:
            for guess, mistake, done in normal_suspects(fan_in, fan_out):
                if matches(got_std, guess, 0.03):
                    raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) has standard deviation "
                                      "{got_std:.5f}; Xavier's is √(2 / (fan_in + fan_out)) = {std:.5f}.",
                                      mistake=mistake, parts=[TestFailure(done)], **params)
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) has standard deviation {got_std:.5f}; "
                              "expected √(2 / (fan_in + fan_out)) = {std:.5f} (the variance within 5 standard errors, "
                              "± {tol:.2%}).", tol=K * math.sqrt(2.0 / n), **params)
        tail = float((v.abs() > 2.0 * std).double().mean())
        se_tail = math.sqrt(tail_p * (1 - tail_p) / n)
        if abs(tail - tail_p) > K * se_tail:
            raise TestFailure("{call} (fan_in = {fan_in}, fan_out = {fan_out}) has the right standard deviation, but "
                              "{tail:.2%} of its values lie beyond 2σ; a normal distribution puts {p:.2%} ± {tol:.2%} "
                              "there. Draw with torch.randn (normal), not torch.rand (uniform).", tail=tail, p=tail_p,
                              tol=K * se_tail, **params)


# -- conv weights: the receptive field ------------------------------------------------------------------------------

@grader.test("conv weights count the receptive field: fan_in = in·kh·kw, fan_out = out·kh·kw", points=2, hidden=True)
def conv_receptive_field(ctx):
    """Both functions, for a 2-D conv weight (64, 32, 3, 5) and a 1-D one (64, 32, 7): the spread (standard deviation)
    of the values must equal, within 5 %, that of your own function for the nn.Linear shape with the same fans,
    (out·kh·kw, in·kh·kw). Comparing your function with itself makes this test about the fans only: a wrong
    constant or bound costs the tests above, not this one. The relative standard errors of the spreads are at most
    0.6 % (the conv shapes, 14,336 and 30,720 values) and 0.2 % (the flat shapes)."""
    ctx.seed(4)
    for name in FUNCTIONS:
        for shape in [(64, 32, 3, 5), (64, 32, 7)]:
            fan_in, fan_out = fans(shape)
            flat = (fan_out, fan_in)
            v, what = draw(ctx, name, shape)
            w, what_flat = draw(ctx, name, flat)
            s_conv, s_flat = float(v.std()), float(w.std())
            if s_flat == 0.0 or s_conv == 0.0:
                raise TestFailure("{call} or {flat_call} returned all-equal values: a random weight has a spread.",
                                  call=what, flat_call=what_flat)
            ratio = s_conv / s_flat
            if abs(ratio - 1.0) <= 0.05:
                continue
            receptive = math.prod(shape[2:])
            implied = (fan_in + fan_out) / ratio ** 2  # the spread goes as 1 / √(fan_in + fan_out)
            params = dict(call=what, flat_call=what_flat, ratio=ratio, fan_in=fan_in, fan_out=fan_out,
                          receptive=receptive, sum=fan_in + fan_out, implied=implied, kernel=str(tuple(shape[2:])))
            if matches(implied, shape[0] + shape[1], 0.06):
                raise TestFailure("{call} spreads its values {ratio:.2f} times as wide as {flat_call}, which has the "
                                  "same fans; it behaves as if fan_in + fan_out were {implied:.0f} = in + out: the "
                                  "kernel {kernel} is not counted. Every output of a convolution sums in·kh·kw inputs, "
                                  "so PyTorch multiplies both fans by the receptive field kh·kw = {receptive} (the "
                                  "product of shape[2:]): fan_in = {fan_in}, fan_out = {fan_out}, sum {sum}.",
                                  mistake="init.receptive_field_ignored", **params)
            raise TestFailure("{call} spreads its values {ratio:.2f} times as wide as {flat_call}, which has the same "
                              "fans; it behaves as if fan_in + fan_out were {implied:.0f} instead of {sum}. PyTorch "
                              "multiplies BOTH fans by the receptive field kh·kw = {receptive} (the product of "
                              "shape[2:], for any number of kernel dimensions): fan_in = in·{receptive} = {fan_in}, "
                              "fan_out = out·{receptive} = {fan_out}.", mistake="init.receptive_field_ignored",
                              **params)


# -- gain -----------------------------------------------------------------------------------------------------------

@grader.test("gain multiplies the values: gain = 5/3 and gain = 0.5", points=1, hidden=True)
def gain_scales(ctx):
    """Both functions, shape (100, 400): the standard deviation with gain = g divided by the one with the default gain
    must be g within 4 % (its standard error is about 0.5 %). Your function is compared with itself, so only the gain
    counts here."""
    ctx.seed(5)
    shape = (100, 400)
    for name in FUNCTIONS:
        base, what_base = draw(ctx, name, shape)
        for gain in (5.0 / 3.0, 0.5):
            v, what = draw(ctx, name, shape, gain=gain)
            ratio = float(v.std()) / float(base.std())
            if abs(ratio / gain - 1.0) <= 0.04:
                continue
            params = dict(call=what, base=what_base, ratio=ratio, gain=gain)
            if abs(ratio - 1.0) <= 0.04:
                raise TestFailure("{call} has the same spread as {base} (ratio {ratio:.3f}): the gain is ignored. It "
                                  "multiplies the scale: a = gain·√(6 / (fan_in + fan_out)) for the uniform, std = "
                                  "gain·√(2 / (fan_in + fan_out)) for the normal. nn.init.calculate_gain('tanh') = "
                                  "5/3, for instance, makes up for tanh squeezing its inputs.",
                                  mistake="init.gain_ignored", **params)
            raise TestFailure("{call} spreads its values {ratio:.3f} times as wide as {base}; expected {gain:.3f}: "
                              "the gain multiplies the bound (uniform) or the standard deviation (normal) once, "
                              "outside the square root.", **params)


# -- fresh draws ----------------------------------------------------------------------------------------------------

@grader.test("each call draws new values from torch's random generator", points=1, hidden=True)
def fresh_draws(ctx):
    """Both functions, shape (50, 60): two calls in a row differ, and torch.manual_seed(s) before a call makes it
    give the same values again (the book's way to reproduce a run)."""
    shape = (50, 60)
    for name in FUNCTIONS:
        ctx.seed(6)
        first, what = draw(ctx, name, shape)
        second, _ = draw(ctx, name, shape)
        if torch.equal(first, second):
            raise TestFailure("two calls {call} in a row returned the same values: every layer would start with the "
                              "same weights. Do not call torch.manual_seed (or cache a tensor) inside the function: "
                              "seeding is the caller's business.", call=what, mistake="init.seeded_inside")
        ctx.seed(6)
        again, _ = draw(ctx, name, shape)
        if not torch.equal(first, again):
            raise TestFailure("{call} gave different values after the same torch.manual_seed(6): your random numbers "
                              "do not come from torch's global generator. Draw them with torch.rand / torch.randn "
                              "(not NumPy, Python's random module, or a torch.Generator of your own), so that "
                              "torch.manual_seed reproduces a run.", call=what)


# -- smoke-check ----------------------------------------------------------------------------------------------------

DEPTH, WIDTH, INPUTS, CLASSES = 10, 64, 16, 4


def teacher_data(gen, n=512):
    """n points in 16 dimensions, labelled by which of 4 random linear scores is largest."""
    W = torch.randn(INPUTS, CLASSES, generator=gen)
    X = torch.randn(n, INPUTS, generator=gen)
    return X, (X @ W).argmax(dim=1)


def tanh_mlp(weights, device):
    """10 nn.Linear layers (16 -> 64 -> ... -> 64 -> 4) with the given weights, zero biases, tanh in between."""
    sizes = [INPUTS] + [WIDTH] * (DEPTH - 1) + [CLASSES]
    layers = []
    for i, W in enumerate(weights):
        layer = torch.nn.Linear(sizes[i], sizes[i + 1]).to(device)
        with torch.no_grad():
            layer.weight.copy_(W.to(device))
            layer.bias.zero_()
        layers.append(layer)
    return layers


def forward(layers, X):
    for i, layer in enumerate(layers):
        X = layer(X)
        if i < len(layers) - 1:
            X = torch.tanh(X)
    return X


@grader.smoke("a 10-layer tanh MLP initialised with your xavier_uniform trains where N(0, 1) saturates", points=3,
              metric="training loss", goal="max", threshold=0.3, budget=15, plot="xavier_loss", hidden=True)
# threshold 0.3: the reference ends at 0.0084 at worst over seeds 0..9, the bugs above at 1.35 or more
def deep_tanh_mlp_trains(ctx):
    """A 10-layer tanh MLP (16 -> 64 x 9 -> 4), every weight from your xavier_uniform (gain 1), biases 0, trained by
    full-batch gradient descent (lr 0.3, 150 steps) on 512 points labelled by a random linear teacher (4 classes).
    At the start, the largest per-layer gradient norm of the weights must be within 100 times the smallest, and the
    final cross-entropy must fall below 0.3. The same network with N(0, 1) weights trains beside it for comparison.
    Over seeds 0..9 (this grader's data and loop): the reference ends at 0.0059 to 0.0084 with gradient-norm ratios
    1.4 to 2.2; N(0, 1) weights give ratios 230 to 351 and losses 1.03 to 1.44; a uniform bound without its 6 (or
    without the square root) stays at 1.35 to 1.39 (ln 4 = 1.386: nothing learned); uniform weights on [0, a] give
    ratios above 1e16 and losses 2.6 to 5.4. He's and LeCun's bounds train (0.003 to 0.006): they are sound
    initialisations, only not Xavier's, and cost only the test of the bound."""
    fn = ctx.fn("xavier_uniform")
    gen = ctx.seed(0)
    X, y = teacher_data(gen)
    X, y = X.to(ctx.device), y.to(ctx.device)
    sizes = [INPUTS] + [WIDTH] * (DEPTH - 1) + [CLASSES]
    xavier, normal = [], []
    for i in range(DEPTH):
        shape = (sizes[i + 1], sizes[i])
        W = fn(shape)
        what = fn.describe(shape)
        check_type(W, what)
        if tuple(W.shape) != shape:
            raise TestFailure("{call} returned shape {got_shape}; nn.Linear({fan_in}, {fan_out}) needs a weight of "
                              "shape {shape} (see the test \"{test}\").", call=what, got_shape=str(tuple(W.shape)),
                              fan_in=shape[1], fan_out=shape[0], shape=str(shape), test=SHAPE_TEST)
        if not bool(torch.isfinite(W).all()):
            raise TestFailure("{call} returned NaN or infinite values.", call=what)
        xavier.append(W.detach().to(torch.float32))
        normal.append(torch.randn(shape, generator=gen))
    nets = {"xavier": tanh_mlp(xavier, ctx.device), "normal01": tanh_mlp(normal, ctx.device)}
    loss_fn = torch.nn.CrossEntropyLoss()
    lr, steps = 0.3, 150
    ratios = {}
    for step in range(1, steps + 1):
        losses = {}
        for key, layers in nets.items():
            loss = loss_fn(forward(layers, X), y)
            params = [p for layer in layers for p in layer.parameters()]
            grads = torch.autograd.grad(loss, params)
            if step == 1:
                norms = [float(g.norm()) for g in grads[0::2]]  # the weights' gradients, layer by layer
                ratios[key] = max(norms) / min(norms) if min(norms) > 0 else math.inf
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= lr * g
            losses[key] = loss.item()
        if step == 1 and ratios["xavier"] == math.inf:
            raise TestFailure("with your xavier_uniform some layer of the MLP gets no gradient at all (N(0, 1) "
                              "weights: the largest per-layer gradient norm is {normal:.3g} times the smallest; "
                              "Xavier: about 2). The tanh units are saturated or the signal died on its way through "
                              "the ten layers: check the scale and the sign of your weights (the tests of "
                              "xavier_uniform's bound say how).", normal=ratios["normal01"])
        if step == 1 and not ratios["xavier"] <= 100.0:
            raise TestFailure("with your xavier_uniform the largest per-layer gradient norm is {ratio:.3g} times the "
                              "smallest (N(0, 1) weights: {normal:.3g} times); Xavier keeps the ten layers within "
                              "100 times of each other (the reference: about 2). The signal saturates or dies on its "
                              "way through the tanh layers: check the scale of your weights (the tests of "
                              "xavier_uniform's bound say how).", ratio=ratios["xavier"], normal=ratios["normal01"])
        if not math.isfinite(losses["xavier"]):
            raise TestFailure("the training of the MLP initialised with your xavier_uniform diverged: the loss is "
                              "{loss} at step {step}.", loss=str(losses["xavier"]), step=step)
        ctx.step(step, xavier_loss=losses["xavier"], normal01_loss=losses["normal01"])
    with torch.no_grad():
        return loss_fn(forward(nets["xavier"], X), y).item()
