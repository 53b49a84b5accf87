"""Exercise sequence_mask: masking padded sequences and the masked cross-entropy loss
(course 11.7; d2l-zh 9.7, d2l-en 10.7).

Read the lesson first:   d2l-tutor lesson sequence_mask
Grade your work:         d2l-tutor grade sequence_mask
Stuck? Ask for a hint:   d2l-tutor hint sequence_mask
"""

import torch
from torch import nn


def sequence_mask(X, valid_len, value=0):
    """Replace every entry of X that lies past its sequence's valid length by `value`.

    Arguments:
        X: a tensor of shape (batch, steps) or (batch, steps, ...): a padded
            minibatch, one sequence per row, time steps along dimension 1.
        valid_len: a 1-D tensor of shape (batch,), integer or float, on X's
            device: sequence b is real for its first valid_len[b] steps and
            padding after that. 0 <= valid_len[b] <= steps.
        value: the number written into the padded positions (default 0).

    Returns:
        A tensor with X's shape, dtype and device in which
            result[b, t, ...] = X[b, t, ...]   if t <  valid_len[b]
            result[b, t, ...] = value          if t >= valid_len[b]
        The step at index valid_len[b] is the first padded one (indices start
        at 0), so it is masked too.

    Requirements the hidden tests check:
        * `value` is used (the attention chapter passes value=-1e6).
        * X with more than two dimensions works: the mask covers every entry
          of a masked time step.
        * valid_len == 0 masks the whole row; valid_len == steps masks nothing.
        * X itself is not modified: return a new tensor (torch.where, or a
          masked copy of X.clone()).
        * The mask is built on X's device (torch.arange(..., device=X.device)).

    Example:
        >>> X = torch.tensor([[1, 2, 3], [4, 5, 6]])
        >>> sequence_mask(X, torch.tensor([1, 2]))
        tensor([[1, 0, 0],
                [4, 5, 0]])
    """
    raise NotImplementedError("sequence_mask is not written yet: replace this line with your implementation")


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """The softmax cross-entropy loss with the padded time steps masked out.

    Keep the base class: MaskedSoftmaxCELoss must subclass
    nn.CrossEntropyLoss, and is created with no arguments:
        loss = MaskedSoftmaxCELoss()
        l = loss(pred, label, valid_len)
    """

    def forward(self, pred, label, valid_len):
        """Return the masked cross-entropy of each sequence.

        Arguments:
            pred: a float tensor of shape (batch, steps, vocab_size), the
                unnormalized scores (logits) for every time step.
            label: an integer (torch.long) tensor of shape (batch, steps), the
                target token at every time step.
            valid_len: a tensor of shape (batch,), the number of real
                (unpadded) steps of each sequence.

        Returns:
            A tensor of shape (batch,): for sequence b,
                (1 / steps) * sum over t < valid_len[b] of CE(pred[b, t], label[b, t])
            where CE is the usual softmax cross-entropy of one token. This is
            the mean over ALL steps of the per-token losses after the padded
            ones are multiplied by 0: divide by steps, not by valid_len.

        Requirements the hidden tests check:
            * Build the weights with your own sequence_mask:
              sequence_mask(torch.ones_like(label), valid_len).
            * Get one loss per token from the base class: set
              self.reduction = 'none' and call super().forward(...). nn's
              cross-entropy wants the classes in dimension 1, so pass
              pred.permute(0, 2, 1), of shape (batch, vocab_size, steps).
            * Padded steps contribute nothing: the gradient of the loss with
              respect to pred is exactly zero there.
            * Gradients flow back to pred (no .item(), .detach() or .numpy()).

        Example (all scores equal, so every token costs ln 10 = 2.3026):
            >>> loss = MaskedSoftmaxCELoss()
            >>> loss(torch.ones(3, 4, 10), torch.ones((3, 4), dtype=torch.long), torch.tensor([4, 2, 0]))
            tensor([2.3026, 1.1513, 0.0000])
        """
        raise NotImplementedError("MaskedSoftmaxCELoss.forward is not written yet: replace this line with your implementation")
