"""Single-mistake variants of beam_search (d2l 11.8)."""

from tests.mistakes import variant

EX = "beam_search"
STRUCTURE = "returns a list of (list[int], float) tuples"
GREEDY = "beam_size 1 is greedy decoding"
EXHAUSTIVE = "a beam wide enough for every sequence finds the exhaustive optimum"
SCORES = "scores are log P(tokens) / len(tokens) ** alpha"
SORTED = "results are sorted, distinct and at most beam_size; ties by token list"
EOS = "eos ends a hypothesis and max_len caps it"
ALPHA = "alpha: larger values favour longer hypotheses"
BATCHED = "one batched next_log_probs call per step"
RANDOM = "matches the reference on random models"
BEATS = "beam search beats greedy decoding on a trained toy translator"

# The tests that compare the learner's result with the reference's (the exhaustive optimum, sorted and distinct,
# eos and max_len, alpha, random models) check which hypotheses come back, in which order, with which scores: a
# mistake in the search or in the scores changes those on most inputs, and those tests honestly lose. The tests of
# the result's types, of greedy decoding with beam_size 1, of the scores (recomputed from each returned hypothesis)
# and of the batched calls check only that.
VALUES = {EXHAUSTIVE, SORTED, EOS, ALPHA, RANDOM}

VARIANTS = [
    variant(EX, "one next_log_probs call per hypothesis", "log_probs = next_log_probs(prefixes)",
            "log_probs = torch.cat([next_log_probs(p[None]) for p in prefixes])",
            loses={BATCHED}, mistake="beam_search.one_call_per_hypothesis"),
    # Only the tests with an alpha other than 0.75 can see it.
    variant(EX, "alpha ignored", "len(tokens) ** alpha)", "len(tokens) ** 0.75)",
            loses={SCORES, ALPHA, RANDOM}, mistake="beam_search.alpha_ignored"),
    # The ranking of the finished hypotheses changes too.
    variant(EX, "no length normalisation", "total / len(tokens) ** alpha)", "total)",
            loses={SCORES} | VALUES, mistake="beam_search.no_length_normalisation"),
    # beam_size 1 is exactly right; the smoke-check's beam is no better than greedy decoding.
    variant(EX, "greedy: keeps one hypothesis", "zip(order[:beam_size].tolist(), values[:beam_size].tolist())",
            "zip(order[:1].tolist(), values[:1].tolist())",
            loses=VALUES | {BEATS}, mistake="beam_search.greedy"),
    # A wide beam keeps every expansion anyway, and on the toy translator the beam still beats greedy decoding.
    variant(EX, "ranks expansions by the last token only",
            "values, order = torch.sort(totals.reshape(-1), descending=True, stable=True)",
            "_, order = torch.sort(log_probs.to(torch.float64).reshape(-1), descending=True, stable=True)\n"
            "        values = totals.reshape(-1)[order]",
            loses={SORTED, EOS, RANDOM}, mistake="beam_search.rank_by_last_token"),
    # The wide beam of the exhaustive test never fills up; the smoke-check's beam still beats greedy decoding.
    variant(EX, "finished hypotheses keep their places", "order[:beam_size].tolist(), values[:beam_size].tolist()",
            "order[:max(beam_size - len(finished), 0)].tolist(), values[:max(beam_size - len(finished), 0)].tolist()",
            loses=VALUES - {EXHAUSTIVE}, mistake="beam_search.finished_keep_places"),
    variant(EX, "stops at the first finished hypothesis", "        live, live_logp = next_live, next_logp\n",
            "        live, live_logp = next_live, next_logp\n        if finished:\n            break\n",
            loses=VALUES | {BEATS}, mistake="beam_search.early_stop"),
    # Returns the beam_size WORST finished hypotheses, worst first.
    variant(EX, "worst first", "key=lambda item: (-item[1], item[0])", "key=lambda item: (item[1], item[0])",
            loses=VALUES | {BEATS}, mistake="beam_search.worst_first"),
]
