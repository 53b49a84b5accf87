"""Exercise vocab: tokens and a vocabulary (course 10.2; d2l-zh 8.2, d2l-en 9.2).

Read the lesson first:   d2l-tutor lesson vocab
Grade your work:         d2l-tutor grade vocab
Stuck? Ask for a hint:   d2l-tutor hint vocab

The two fit together the way the book's text pipeline uses them:

    tokens = tokenize(lines)              # a list of lists of words
    vocab = Vocab(tokens)                 # every distinct word gets an index
    corpus = [vocab[tok] for line in tokens for tok in line]
"""


def tokenize(lines, token="word"):
    """Split each line of text into tokens.

    Arguments:
        lines: a list of strings, one line of text each.
        token: "word" splits each line on whitespace (str.split() with no
            argument, so runs of spaces and leading or trailing spaces give
            no empty tokens); "char" splits each line into its characters,
            spaces included.

    Returns:
        A list with one list of tokens (strings) per line, in order. An empty
        line gives an empty list.

    Raises:
        ValueError for any other value of `token`. (The book prints an error
        and returns None; a caller then fails later, far from the cause.)

    Example:
        >>> tokenize(["the time machine", "by h g wells"])
        [['the', 'time', 'machine'], ['by', 'h', 'g', 'wells']]
        >>> tokenize(["a b"], token="char")
        [['a', ' ', 'b']]
    """
    raise NotImplementedError("tokenize is not written yet: replace this line with your implementation")


class Vocab:
    """A vocabulary: maps tokens to indices 0, 1, 2, ... and back.

    Vocab(tokens=None, min_freq=0, reserved_tokens=None)

    Arguments:
        tokens: the text to count, either a flat list of tokens or a list of
            lists of tokens (as tokenize returns; counted as one flat list).
            None or [] gives an empty text.
        min_freq: tokens seen fewer than min_freq times get no index of their
            own (they become <unk>); a token seen exactly min_freq times keeps
            its index.
        reserved_tokens: a list of tokens that get indices whether or not
            they occur in the text (for example ["<pad>", "<bos>", "<eos>"]);
            None means none.

    The indices, in this order:
        0                      "<unk>", the unknown token
        1 .. len(reserved)     the reserved tokens, in the order given
        then                   the tokens of the text with count >= min_freq,
                               most frequent first; tokens with the same count
                               keep the order in which they first appear in
                               the text (a stable sort by count gives this).
    A token gets exactly one index: a reserved token that also occurs in the
    text keeps its reserved index and is not added a second time.

    Members (the book's names; the hidden tests call each one):
        len(vocab): the number of indices, <unk> included.
        vocab[token]: the index of one token (a str); a token without an
            index gives vocab.unk. vocab[list_or_tuple] gives a list of
            indices, one per token.
        vocab.to_tokens(index): the token at an int index; to_tokens(list of
            ints) gives a list of tokens.
        vocab.unk: a property, the index of "<unk>", that is 0.
        vocab.token_freqs: a property, the list of (token, count) pairs of
            every distinct token of the text (also those below min_freq), most
            frequent first, ties in order of first appearance.

    Example:
        >>> vocab = Vocab([["b", "a", "b"], ["c", "a", "b"]], reserved_tokens=["<pad>"])
        >>> vocab.to_tokens(list(range(len(vocab))))
        ['<unk>', '<pad>', 'b', 'a', 'c']
        >>> vocab["a"], vocab[["c", "zzz"]], vocab.token_freqs
        (3, [4, 0], [('b', 3), ('a', 2), ('c', 1)])
    """

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        raise NotImplementedError("Vocab is not written yet: replace this line with your implementation")

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, tokens):
        raise NotImplementedError

    def to_tokens(self, indices):
        raise NotImplementedError

    @property
    def unk(self):
        raise NotImplementedError

    @property
    def token_freqs(self):
        raise NotImplementedError
