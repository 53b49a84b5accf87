"""Exercise nmt_data: truncating, padding and batching translation data (course 11.5; d2l-zh 9.5, d2l-en 10.5).

Read the lesson first:   d2l-tutor lesson nmt_data
Grade your work:         d2l-tutor grade nmt_data
Stuck? Ask for a hint:   d2l-tutor hint nmt_data

The two fit together the way the book's load_data_nmt uses them:

    src_vocab = Vocab(source, min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
"""

import torch

# Given: Vocab(tokens=None, min_freq=0, reserved_tokens=None) from exercise vocab (course 10.2), the reference
# answer: vocab[token] is a token's index (<unk>, index 0, for a token it does not know), vocab[list_of_tokens] a
# list of indices, len(vocab) the number of indices. Use it to build vocabularies when you try your code.
from tutor.given import Vocab


def truncate_pad(line, num_steps, padding_token):
    """Make a sequence exactly num_steps long.

    Arguments:
        line: a list (of token indices, or of any tokens).
        num_steps: the length wanted, an int >= 0.
        padding_token: the value that fills a short line (for indices,
            vocab['<pad>']).

    Returns:
        A new list of length num_steps: the FIRST num_steps items of line
        when it is longer (the end is cut off), else line followed by as many
        padding_token as it takes. `line` itself is left unchanged.

    Example (the book's: the indices of "go ." padded to 10 steps, with
    <pad> at index 1):
        >>> truncate_pad([47, 4], 10, 1)
        [47, 4, 1, 1, 1, 1, 1, 1, 1, 1]
        >>> truncate_pad([5, 6, 7, 8], 3, 0)
        [5, 6, 7]
    """
    raise NotImplementedError("truncate_pad is not written yet: replace this line with your implementation")


def build_array_nmt(lines, vocab, num_steps):
    """Turn tokenized sentences into one padded tensor of indices.

    Arguments:
        lines: a list of n sentences, each a list of tokens (strings).
        vocab: a vocabulary with reserved tokens '<pad>' and '<eos>' (the
            given Vocab or your own): vocab[list_of_tokens] gives a list of
            indices. Its '<pad>' and '<eos>' may sit at any index: look them
            up, do not write 1 or 3.
        num_steps: the length of every row, an int >= 1.

    Returns:
        The pair (array, valid_len):
            array: int64 tensor of shape (n, num_steps). Row i holds the
                indices of lines[i] with the index of '<eos>' appended, then
                truncated or padded with the index of '<pad>' to num_steps
                (truncate_pad). <eos> is appended BEFORE truncating: a line
                of num_steps tokens or more loses its <eos>.
            valid_len: int64 tensor of shape (n,): the number of entries of
                each row that are not '<pad>' (the tokens and the <eos> that
                were kept).

    Example (indices: <unk> 0, <pad> 1, <bos> 2, <eos> 3, a 4, b 5):
        >>> array, valid_len = build_array_nmt([["a", "b"], ["b", "a", "b", "a"]], vocab, 4)
        >>> array
        tensor([[4, 5, 3, 1],
                [5, 4, 5, 4]])
        >>> valid_len
        tensor([3, 4])
    """
    raise NotImplementedError("build_array_nmt is not written yet: replace this line with your implementation")
