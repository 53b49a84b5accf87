"""Single-mistake variants of vocab (d2l 10.2)."""

from tests.mistakes import edits, variant

EX = "vocab"
TOKENIZE = "tokenize splits lines into words or characters"
UNKNOWN_TYPE = "tokenize raises ValueError for an unknown token type"
ORDER = "the indices: <unk>, then the reserved tokens, then the most frequent first"
TIES = "tokens with the same count keep the order of their first appearance"
RESERVED = "a reserved token that also occurs in the text gets one index"
MIN_FREQ = "min_freq: tokens seen fewer times become <unk>"
UNKNOWN = "unknown tokens map to vocab.unk, which is 0"
NESTED = "a list of lists of tokens is counted as one flat list"
ROUND_TRIPS = "round trips: tokens to indices and back, lists and tuples"
TOKEN_FREQS = "token_freqs: every (token, count) pair, most frequent first"
SMOKE = "a bigram language model counted over your vocabulary predicts held-out text"

VARIANTS = [
    # split(' ') makes empty tokens at double spaces and at either end of a line (the generated text has neither).
    variant(EX, "split on a single space", "line.split()", 'line.split(" ")', loses={TOKENIZE},
            mistake="vocab.tokenize_split_on_single_space"),
    # The book's tokenize prints an error and returns None for an unknown token type.
    variant(EX, "unknown token type only printed", """    raise ValueError(f"unknown token type {token!r}: use 'word' or 'char'")""",
            """    print("ERROR: unknown token type: " + token)""", loses={UNKNOWN_TYPE},
            mistake="vocab.tokenize_unknown_no_error"),
    # Sorted least frequent first: every index after the reserved ones moves (and min_freq stops at once), so every
    # test that checks an index loses; the smoke-check does not care which index a word has.
    variant(EX, "least frequent first", "reverse=True)", "reverse=False)",
            loses={ORDER, RESERVED, MIN_FREQ, UNKNOWN, NESTED, ROUND_TRIPS, TOKEN_FREQS},
            mistake="vocab.frequency_ascending"),
    # Ties broken alphabetically: only the test with ties sees it (the other tests' texts have no ties).
    variant(EX, "ties sorted alphabetically", "key=lambda pair: pair[1], reverse=True",
            "key=lambda pair: (-pair[1], pair[0])", loses={TIES}, mistake="vocab.ties_not_in_first_appearance_order"),
    # A reserved token that also occurs in the text is appended a second time.
    edits(EX, "reserved token added twice", [
        ("            if tok not in self.token_to_idx:\n                self.idx_to_token.append(tok)\n"
         "                self.token_to_idx[tok] = len(self.idx_to_token) - 1",
         "            self.idx_to_token.append(tok)\n            self.token_to_idx[tok] = len(self.idx_to_token) - 1"),
    ], loses={RESERVED}, mistake="vocab.reserved_token_duplicated"),
    # A token seen exactly min_freq times is dropped.
    variant(EX, "min_freq off by one", "if freq < min_freq:", "if freq <= min_freq:", loses={MIN_FREQ},
            mistake="vocab.min_freq_off_by_one"),
    # token_to_idx[token] raises KeyError for a token without an index.
    variant(EX, "unknown token raises KeyError", "self.token_to_idx.get(tokens, self.unk)",
            "self.token_to_idx[tokens]", loses={UNKNOWN}, mistake="vocab.unknown_token_raises"),
    # Always flattening: a flat list of words is counted as its characters.
    variant(EX, "flat list split into characters", "if len(tokens) == 0 or isinstance(tokens[0], list):",
            "if True:", loses={NESTED}, mistake="vocab.flat_list_split"),
    # A tuple of tokens is looked up as one (unknown) token.
    variant(EX, "tuple taken as one token", "if not isinstance(tokens, (list, tuple)):",
            "if not isinstance(tokens, list):", loses={ROUND_TRIPS}, mistake="vocab.tuple_not_a_sequence"),
    # Tokens below min_freq are dropped before counting is stored: token_freqs misses them.
    variant(EX, "token_freqs filtered by min_freq", "counter = count_corpus(tokens)",
            "counter = {tok: n for tok, n in count_corpus(tokens).items() if n >= min_freq}", loses={TOKEN_FREQS},
            mistake="vocab.token_freqs_filtered"),
]
