"""Exercise nadaraya_watson: Nadaraya-Watson kernel regression as attention pooling, non-parametric and
parametric (course 12.1; d2l-zh 10.2, d2l-en 11.2).

Read the lesson first:   d2l-tutor lesson nadaraya_watson
Grade your work:         d2l-tutor grade nadaraya_watson
Stuck? Ask for a hint:   d2l-tutor hint nadaraya_watson

The training inputs are the keys, the training outputs are the values and the inputs to predict at are
the queries. Shapes below use n = number of training pairs, m = number of queries.
"""

import torch
from torch import nn


def nw_predict(x_train, y_train, x_query):
    """Non-parametric Nadaraya-Watson regression with a Gaussian kernel.

    Arguments:
        x_train: a float tensor of shape (n,), the keys (training inputs).
        y_train: a float tensor of shape (n,), the values (training outputs).
        x_query: a float tensor of shape (m,), the queries (inputs to predict at).
        All three share one dtype and one device.

    Returns:
        A tuple (y_hat, attention_weights):
            attention_weights: shape (m, n); row i is the softmax, over the n
                keys, of the scores  -(x_query[i] - x_train[j])² / 2
                (the Gaussian kernel: closer keys get more weight);
            y_hat: shape (m,), y_hat[i] = Σ_j attention_weights[i, j] · y_train[j],
                a weighted average of the values.
        Both keep the inputs' dtype and device.

    Requirements the hidden tests check:
        * Each ROW of attention_weights sums to 1 (one row per query).
        * Keep both the square and the 1/2, and the minus sign: the score
          falls as the distance grows.
        * Numerically stable: a query far from every key (x_query = 60 with
          keys in [0, 5]) still gives finite weights that sum to 1. Plain
          exp(score) / Σ exp(score) underflows to 0 / 0 there.

    Example:
        >>> y_hat, w = nw_predict(torch.tensor([0., 1., 2.]), torch.tensor([0., 2., 4.]),
        ...                       torch.tensor([1.]))
        >>> w
        tensor([[0.2741, 0.4519, 0.2741]])
        >>> y_hat
        tensor([2.0000])
    """
    raise NotImplementedError("nw_predict is not written yet: replace this line with your implementation")


class NWKernelRegression(nn.Module):
    """Parametric Nadaraya-Watson regression: one learnable scalar w sets the kernel's width.

    Created as NWKernelRegression() with no arguments. Calling it runs forward:
        net = NWKernelRegression()
        y_hat = net(queries, keys, values)   # (n,)
    """

    def __init__(self):
        """Call super().__init__() and create the one parameter, exactly so:

            self.w = nn.Parameter(torch.rand((1,)))

        a learnable tensor of shape (1,) named w (the grader sets it by this
        name). Create no other parameters.
        """
        super().__init__()
        raise NotImplementedError("NWKernelRegression.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, queries, keys, values):
        """Return the attention-pooled values, one per query.

        Arguments:
            queries: shape (n,), one query per row.
            keys: shape (n, m), row i holds the m keys that query i attends to.
            values: shape (n, m), the values paired with those keys.
            (In the book's training, queries = x_train (50,) and row i of keys
            and values holds the other 49 training pairs; for prediction,
            every row holds all the training pairs.)

        Returns:
            A tensor of shape (n,):
                scores[i, j] = -((queries[i] - keys[i, j]) · w)² / 2
                weights      = softmax of scores over j (each row sums to 1)
                result[i]    = Σ_j weights[i, j] · values[i, j]
            w multiplies the distance BEFORE squaring, so it enters as w².

        Requirements the hidden tests check:
            * self.attention_weights holds the weights, shape (n, m) (d2l
              plots them as a heatmap).
            * At w = 1 the result equals the non-parametric nw_predict.
            * The result is differentiable with respect to w: the grader trains
              w with SGD (lr 0.5) as the book does.
        """
        raise NotImplementedError("NWKernelRegression.forward is not written yet: replace this line with your "
                                  "implementation")
