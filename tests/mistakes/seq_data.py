"""Single-mistake variants of seq_data (d2l 10.3)."""

from tests.mistakes import variant

EX = "seq_data"
BOOK_R = "the book's example with random sampling: corpus 0..34, batch 2, 5 steps"
BOOK_S = "the book's example with sequential partitioning: corpus 0..34, batch 2, 5 steps"
R_SHIFT = "random sampling: Y is X shifted by one token in the corpus"
R_GRID = "random sampling: every subsequence starts at offset + k·num_steps, with a random offset"
R_REPEAT = "random sampling: no subsequence repeats within an epoch"
R_COUNT = "random sampling: ((len(corpus) - offset - 1) // num_steps) // batch_size minibatches"
R_SHUFFLE = "random sampling: the subsequences come in a shuffled order"
S_SHIFT = "sequential partitioning: Y is X shifted by one token in the corpus"
S_ROWS = "sequential partitioning: row r of each minibatch continues row r of the one before"
S_OFFSET = "sequential partitioning: a random offset in [0, num_steps] and the right number of minibatches"
SMOKE = ("an RNN trained on your sequential minibatches with a carried state beats one with shuffled windows and a "
         "reset state")

VARIANTS = [
    variant(EX, "random: Y not shifted", "Y = torch.tensor([tokens[p + 1:p + 1 + num_steps]",
            "Y = torch.tensor([tokens[p:p + num_steps]", loses={BOOK_R, R_SHIFT},
            mistake="seq_data.random_y_not_shifted"),
    variant(EX, "random: starts anywhere (overlapping)", "starts = list(range(0, n_pieces * num_steps, num_steps))",
            "starts = random.sample(range(0, len(tokens) - num_steps), n_pieces)", loses={BOOK_R, R_GRID},
            mistake="seq_data.random_overlapping"),
    variant(EX, "random: not shuffled", "    random.shuffle(starts)\n", "", loses={R_SHUFFLE},
            mistake="seq_data.random_not_shuffled"),
    variant(EX, "random: sampled with replacement", "chosen = starts[b * batch_size:(b + 1) * batch_size]",
            "chosen = random.choices(starts, k=batch_size)", loses={BOOK_R, R_REPEAT},
            mistake="seq_data.random_repeats"),
    variant(EX, "random: no random offset", "start = random.randint(0, num_steps - 1)", "start = 0",
            loses={R_GRID}, mistake="seq_data.random_no_offset"),
    variant(EX, "random: one subsequence too few", "n_pieces = (len(tokens) - 1) // num_steps",
            "n_pieces = (len(tokens) - 1) // num_steps - 1", loses={BOOK_R, R_COUNT},
            mistake="seq_data.random_count_off_by_one"),
    variant(EX, "sequential: Y not shifted", "corpus[offset + 1:offset + 1 + usable]", "corpus[offset:offset + usable]",
            loses={BOOK_S, S_SHIFT, SMOKE}, mistake="seq_data.sequential_y_not_shifted"),
    variant(EX, "sequential: consecutive chunks (rows do not continue)",
            "        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]",
            "        j = i * batch_size\n"
            "        yield (Xs.reshape(-1)[j:j + batch_size * num_steps].reshape(batch_size, num_steps),\n"
            "               Ys.reshape(-1)[j:j + batch_size * num_steps].reshape(batch_size, num_steps))",
            loses={BOOK_S, S_ROWS, SMOKE}, mistake="seq_data.sequential_not_continuing"),
    variant(EX, "sequential: no random offset", "offset = random.randint(0, num_steps)", "offset = 0",
            loses={S_OFFSET}, mistake="seq_data.sequential_no_offset"),
]
