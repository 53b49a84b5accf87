"""Single-mistake variants of optimizers (course 13.1; d2l-zh 11.6 to 11.10, d2l-en 12.6 to 12.10)."""

from tests.mistakes import book_version, edits, variant

EX = "optimizers"
INIT = "init_*_states give zeros of the book's shapes: (feature_dim, 1) for w and (1,) for b"
MOMENTUM = "sgd_momentum: three steps equal torch.optim.SGD(lr, momentum)"
FIRST = "adam's first step from zero states moves each element by lr (bias correction at t = 1)"
ADAM = "adam: four steps equal torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-6)"
T = "adam adds 1 to hyperparams['t'] once per call"
EPS = "adam adds ε after the square root: tiny gradients still move by about lr"
RMSPROP = "rmsprop: three steps equal torch.optim.RMSprop(lr, alpha=gamma)"
ADAGRAD = "adagrad: three steps equal torch.optim.Adagrad(lr)"
IN_PLACE = "the states are updated in place: the caller's tensors change"
ZEROED = "every function zeroes the gradients after the step"
SMOKE = "momentum and Adam fit an ill-conditioned regression that plain gradient descent does not"

VARIANTS = [
    # The velocity subtracts the gradient and the step adds it back: every step goes uphill; training diverges.
    variant(EX, "momentum sign flipped", "p[:] -= hyperparams['lr'] * v\n", "p[:] += hyperparams['lr'] * v\n",
            loses={MOMENTUM, SMOKE}, mistake="optimizers.momentum_sign"),
    # v = ... rebinds the loop's name: the caller's velocity stays zero and momentum becomes plain gradient descent,
    # which misses the smoke-check's threshold (3e-3).
    variant(EX, "momentum state replaced, not updated in place", "v[:] = hyperparams['momentum'] * v + p.grad",
            "v = hyperparams['momentum'] * v + p.grad",
            loses={MOMENTUM, IN_PLACE, SMOKE}, mistake="optimizers.state_not_in_place"),
    # No bias correction: each step is about 0.32 lr at first; Adam still gets there in the smoke-check.
    edits(EX, "adam without bias correction", [
        ("v_bias_corr = v / (1 - beta1 ** hyperparams['t'])", "v_bias_corr = v"),
        ("s_bias_corr = s / (1 - beta2 ** hyperparams['t'])", "s_bias_corr = s")],
        loses={FIRST, ADAM}, mistake="optimizers.no_bias_correction"),
    # β1 and β2 swapped everywhere: the first step is still right (the corrections undo the swap at t = 1), but Adam
    # then averages the gradient over ~1000 steps and misses the smoke-check (0.25).
    variant(EX, "adam with the betas swapped", "beta1, beta2, eps = 0.9, 0.999, 1e-6",
            "beta1, beta2, eps = 0.999, 0.9, 1e-6", loses={ADAM, SMOKE}, mistake="optimizers.betas_swapped"),
    # t never incremented: the bias correction of t = 1 forever, steps about 3 times too small.
    variant(EX, "adam does not increment t", "    hyperparams['t'] += 1\n", "",
            loses={T}, mistake="optimizers.t_not_incremented"),
    # t incremented inside the loop over the parameters: 2 per call with [w, b], so b's bias correction is wrong.
    variant(EX, "adam increments t per parameter", "        p.grad.data.zero_()\n    hyperparams['t'] += 1\n",
            "        p.grad.data.zero_()\n        hyperparams['t'] += 1\n",
            loses={T, FIRST, ADAM}, mistake="optimizers.t_per_parameter"),
    # eps inside the square root, as in AdaGrad and RMSProp: only tiny gradients show it.
    variant(EX, "adam with eps inside the square root", "(torch.sqrt(s_bias_corr) + eps)",
            "torch.sqrt(s_bias_corr + eps)", loses={EPS}, mistake="optimizers.eps_inside_sqrt"),
    # Adam's states replaced: v and s stay zero for the caller; Adam becomes a sign-like step of 0.32 lr and misses
    # the smoke-check narrowly (6.6e-4).
    edits(EX, "adam state replaced, not updated in place", [
        ("v[:] = beta1 * v + (1 - beta1) * p.grad", "v = beta1 * v + (1 - beta1) * p.grad"),
        ("s[:] = beta2 * s + (1 - beta2) * torch.square(p.grad)",
         "s = beta2 * s + (1 - beta2) * torch.square(p.grad)")],
        loses={ADAM, IN_PLACE, SMOKE}, mistake="optimizers.state_not_in_place"),
    # RMSProp with gamma weighing the new squared gradient.
    variant(EX, "rmsprop with gamma swapped", "s[:] = gamma * s + (1 - gamma) * torch.square(p.grad)",
            "s[:] = (1 - gamma) * s + gamma * torch.square(p.grad)",
            loses={RMSPROP}, mistake="optimizers.gamma_swapped"),
    # AdaGrad that forgets: s = g² instead of s += g².
    variant(EX, "adagrad does not accumulate", "s[:] += torch.square(p.grad)", "s[:] = torch.square(p.grad)",
            loses={ADAGRAD}, mistake="optimizers.adagrad_not_accumulated"),
    # Gradients never zeroed (in any of the four): only the zeroing test sees it, the others set .grad themselves.
    variant(EX, "gradients not zeroed", "        p.grad.data.zero_()\n", "", count=4,
            loses={ZEROED}, mistake="optimizers.grad_not_zeroed"),
    # The book's code (d2l-zh 11.6 to 11.10, d2l-en 12.6 to 12.10), written for this project: it passes everything.
    book_version(EX, "the four optimizers as the book prints them", """
        import torch


        def init_momentum_states(feature_dim):
            return (torch.zeros((feature_dim, 1)), torch.zeros(1))


        def sgd_momentum(params, states, hyperparams):
            for p, v in zip(params, states):
                with torch.no_grad():
                    v[:] = hyperparams['momentum'] * v + p.grad
                    p[:] -= hyperparams['lr'] * v
                p.grad.data.zero_()


        def init_adagrad_states(feature_dim):
            return (torch.zeros((feature_dim, 1)), torch.zeros(1))


        def adagrad(params, states, hyperparams):
            eps = 1e-6
            for p, s in zip(params, states):
                with torch.no_grad():
                    s[:] += torch.square(p.grad)
                    p[:] -= hyperparams['lr'] * p.grad / torch.sqrt(s + eps)
                p.grad.data.zero_()


        def init_rmsprop_states(feature_dim):
            return (torch.zeros((feature_dim, 1)), torch.zeros(1))


        def rmsprop(params, states, hyperparams):
            gamma, eps = hyperparams['gamma'], 1e-6
            for p, s in zip(params, states):
                with torch.no_grad():
                    s[:] = gamma * s + (1 - gamma) * torch.square(p.grad)
                    p[:] -= hyperparams['lr'] * p.grad / torch.sqrt(s + eps)
                p.grad.data.zero_()


        def init_adam_states(feature_dim):
            v_w, v_b = torch.zeros((feature_dim, 1)), torch.zeros(1)
            s_w, s_b = torch.zeros((feature_dim, 1)), torch.zeros(1)
            return ((v_w, s_w), (v_b, s_b))


        def adam(params, states, hyperparams):
            beta1, beta2, eps = 0.9, 0.999, 1e-6
            for p, (v, s) in zip(params, states):
                with torch.no_grad():
                    v[:] = beta1 * v + (1 - beta1) * p.grad
                    s[:] = beta2 * s + (1 - beta2) * torch.square(p.grad)
                    v_hat = v / (1 - beta1 ** hyperparams['t'])
                    s_hat = s / (1 - beta2 ** hyperparams['t'])
                    p[:] -= hyperparams['lr'] * v_hat / (torch.sqrt(s_hat) + eps)
                p.grad.data.zero_()
            hyperparams['t'] += 1
        """, loses=set(), mistake=None),
]
