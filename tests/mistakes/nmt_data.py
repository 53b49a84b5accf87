"""Single-mistake variants of nmt_data (d2l 11.5)."""

from tests.mistakes import variant

EX = "nmt_data"
BOOK = "truncate_pad: the book's example, padded to 10 steps"
HEAD = "truncate_pad keeps the head of a long line"
EDGE = "truncate_pad: empty lines and tokens that are strings"
EOS = "build_array_nmt appends <eos>, then pads with <pad>"
LONG = "a line of num_steps tokens or more loses its <eos>"
VALID = "valid_len counts the entries that are not <pad>, <eos> included"
DTYPES = "array and valid_len are int64 tensors of shapes (n, num_steps) and (n,)"
OTHER = "any vocabulary: <pad> and <eos> are looked up, not written as 1 and 3"
SMOKE = "a small translator trained on your arrays translates held-out sentences"

VARIANTS = [
    # Keeps the end of a long line: truncate_pad's test names it, and so does the test of long lines, whose rows
    # then end in <eos> (the generated sentences of the smoke-check are never cut).
    variant(EX, "truncation keeps the tail", "return line[:num_steps]", "return line[len(line) - num_steps:]",
            loses={HEAD, LONG}, mistake="nmt_data.truncate_keeps_tail"),
    # No <eos>: the arrays are wrong, and the translator never learns where a sentence ends.
    variant(EX, "no <eos>", "vocab[line] + [eos]", "vocab[line]", loses={EOS, SMOKE},
            mistake="nmt_data.eos_missing"),
    # <eos> forced into the last place of a cut line.
    variant(EX, "<eos> kept when truncating", "truncate_pad(vocab[line] + [eos], num_steps, pad)",
            "truncate_pad(vocab[line][:num_steps - 1] + [eos], num_steps, pad)", loses={LONG},
            mistake="nmt_data.eos_kept_when_truncated"),
    # valid_len from the sentence lengths, without the <eos>: the masked loss never sees <eos>.
    variant(EX, "valid_len without <eos>", "valid_len = (array != pad).sum(dim=1)",
            "valid_len = torch.tensor([min(len(line), num_steps) for line in lines])", loses={VALID, SMOKE},
            mistake="nmt_data.valid_len_without_eos"),
    # The book's indices written in: right for the book's vocabularies only.
    variant(EX, "<pad> and <eos> hard-coded", 'pad, eos = vocab["<pad>"], vocab["<eos>"]', "pad, eos = 1, 3",
            loses={OTHER}, mistake="nmt_data.special_indices_hard_coded"),
    # valid_len as int32: only the dtype test sees it.
    variant(EX, "valid_len int32", "valid_len = (array != pad).sum(dim=1)",
            "valid_len = (array != pad).sum(dim=1).to(torch.int32)", loses={DTYPES}),
]
