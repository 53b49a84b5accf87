"""Single-mistake variants of init (course 4.6-4.7): Xavier initialisation."""

from tests.mistakes import variant

EX = "init"
SHAPE = "a float32 tensor of exactly the requested shape"
UNIFORM = "xavier_uniform fills [-a, a] evenly, a = gain·√(6 / (fan_in + fan_out))"
NORMAL = "xavier_normal has mean 0 and std gain·√(2 / (fan_in + fan_out))"
CONV = "conv weights count the receptive field: fan_in = in·kh·kw, fan_out = out·kh·kw"
GAIN = "gain multiplies the values: gain = 5/3 and gain = 0.5"
FRESH = "each call draws new values from torch's random generator"
LEARNS = "a 10-layer tanh MLP initialised with your xavier_uniform trains where N(0, 1) saturates"

UNIFORM_A = "a = gain * math.sqrt(6.0 / (fan_in + fan_out))"
NORMAL_STD = "std = gain * math.sqrt(2.0 / (fan_in + fan_out))"

VARIANTS = [
    # The weight laid out as (fan_in, fan_out), as the book's scratch MLP keeps W for X @ W. The values are right
    # (Xavier is symmetric in the fans), but nn.Linear cannot take the tensor: the smoke-check's 16 -> 64 layer fails.
    variant(EX, "weight built as (fan_in, fan_out)", "torch.rand(tuple(shape))",
            "torch.rand((shape[1], shape[0], *shape[2:]))",
            loses={SHAPE, LEARNS}, mistake="init.fans_swapped"),
    variant(EX, "normal weight built as (fan_in, fan_out)", "torch.randn(tuple(shape))",
            "torch.randn((shape[1], shape[0], *shape[2:]))",
            loses={SHAPE}, mistake="init.fans_swapped"),
    # float64 (Python's or NumPy's habit): only the shape-and-dtype test sees it.
    variant(EX, "float64 result", "torch.randn(tuple(shape))", "torch.randn(tuple(shape), dtype=torch.float64)",
            loses={SHAPE}),
    # He's uniform bound: fan_in only. It still trains the tanh MLP (loss 0.003), so only the bound test fails.
    variant(EX, "uniform with fan_in only (He)", UNIFORM_A, "a = gain * math.sqrt(6.0 / fan_in)",
            loses={UNIFORM}, mistake="init.one_fan"),
    # LeCun's normal: std = 1 / sqrt(fan_in).
    variant(EX, "normal with fan_in only (LeCun)", NORMAL_STD, "std = gain * math.sqrt(1.0 / fan_in)",
            loses={NORMAL}, mistake="init.one_fan"),
    # The 6 forgotten: the bound is sqrt(6) times too small, and ten tanh layers wash the signal out (loss 1.35+).
    variant(EX, "uniform without the 6", UNIFORM_A, "a = gain * math.sqrt(1.0 / (fan_in + fan_out))",
            loses={UNIFORM, LEARNS}, mistake="init.uniform_constant"),
    # The 2 forgotten in the normal.
    variant(EX, "normal without the 2", NORMAL_STD, "std = gain * math.sqrt(1.0 / (fan_in + fan_out))",
            loses={NORMAL}, mistake="init.normal_constant"),
    # The variance passed as the standard deviation.
    variant(EX, "normal without the square root", NORMAL_STD, "std = gain * 2.0 / (fan_in + fan_out)",
            loses={NORMAL}, mistake="init.missing_sqrt"),
    # torch.rand * a: [0, a) instead of [-a, a]. Every weight positive: the tanh MLP saturates at once.
    variant(EX, "uniform on [0, a]", "torch.rand(tuple(shape)) * (2.0 * a) - a", "torch.rand(tuple(shape)) * a",
            loses={UNIFORM, LEARNS}, mistake="init.uniform_not_centred"),
    # gain ignored (the smoke-check uses gain 1, so it does not notice).
    variant(EX, "gain ignored in the uniform", UNIFORM_A, "a = math.sqrt(6.0 / (fan_in + fan_out))",
            loses={GAIN}, mistake="init.gain_ignored"),
    variant(EX, "gain ignored in the normal", NORMAL_STD, "std = math.sqrt(2.0 / (fan_in + fan_out))",
            loses={GAIN}, mistake="init.gain_ignored"),
    # Conv weights: the kernel not counted in the fans (2-D shapes are unaffected).
    variant(EX, "receptive field not counted", "    for size in shape[2:]:\n        receptive *= size\n", "",
            loses={CONV}, mistake="init.receptive_field_ignored"),
    # The receptive field counted in fan_in only.
    variant(EX, "receptive field in fan_in only", "return shape[1] * receptive, shape[0] * receptive",
            "return shape[1] * receptive, shape[0]",
            loses={CONV}, mistake="init.receptive_field_ignored"),
    # Only the first kernel dimension counted: the 1-D conv passes, the (3, 5) kernel does not.
    variant(EX, "receptive field kh only", "    for size in shape[2:]:\n        receptive *= size\n",
            "    for size in shape[2:3]:\n        receptive *= size\n",
            loses={CONV}, mistake="init.receptive_field_ignored"),
    # Seeding inside the function: every call (every layer) gets the same weights.
    variant(EX, "seeded inside xavier_normal", "    fan_in, fan_out = _fans(shape)\n    std",
            "    torch.manual_seed(0)\n    fan_in, fan_out = _fans(shape)\n    std",
            loses={FRESH}, mistake="init.seeded_inside"),
]
