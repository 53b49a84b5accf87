"""Single-mistake variants of the bert reference solution."""

from tests.mistakes import variant

EX = "bert"
SEGMENTS = "get_tokens_and_segments: <cls>, <sep> and segment ids for one sentence and a pair"
DISTRIBUTION = "replace_mlm_tokens: <mask> 80 %, a random token 10 %, unchanged 10 % (4000 draws)"
FROM_VOCAB = "replace_mlm_tokens: random tokens come from the whole vocabulary, not the sentence"
PICKS = "replace_mlm_tokens: num_mlm_preds distinct random candidates, labelled with the original tokens"
POSITIONS = "position embeddings are a learned nn.Parameter (1, max_len, num_hiddens) that gets gradients"
ENCODER = "BERTEncoder equals the reference with the same weights (segments, positions, valid_lens)"
MASKLM = "MaskLM picks each sequence's own positions; NextSentencePred is one linear layer"
SMOKE = "a tiny BERT of your parts learns masked-LM and next-sentence prediction"

RANDOM_TOKEN = "vocab.to_tokens(random.randrange(len(vocab)))"

VARIANTS = [
    variant(EX, "first <sep> in segment 1", "segments += [1] * (len(tokens_b) + 1)",
            "segments = segments[:-1] + [1] * (len(tokens_b) + 2)", loses={SEGMENTS}, mistake="bert.sep_segment"),
    variant(EX, "blocks without biases", "ffn_num_input, ffn_num_hiddens, num_heads, dropout, True))",
            "ffn_num_input, ffn_num_hiddens, num_heads, dropout))", loses={ENCODER},
            mistake="bert.blocks_without_bias"),
    variant(EX, "the book's pos_embedding.data", "X = X + self.pos_embedding[:, :X.shape[1], :]",
            "X = X + self.pos_embedding.data[:, :X.shape[1], :]", loses={POSITIONS},
            mistake="bert.pos_embedding_data"),
    variant(EX, "positions in a buffer", "self.pos_embedding = nn.Parameter(torch.randn(1, max_len, num_hiddens))",
            "self.register_buffer(\"pos_embedding\", torch.randn(1, max_len, num_hiddens))", loses={POSITIONS},
            mistake="bert.pos_not_parameter"),
    variant(EX, "positions not added", "X = X + self.pos_embedding[:, :X.shape[1], :]", "X = X",
            loses={POSITIONS, ENCODER}, mistake="bert.positions_missing"),
    variant(EX, "segments not added", "X = self.token_embedding(tokens) + self.segment_embedding(segments)",
            "X = self.token_embedding(tokens)", loses={ENCODER}, mistake="bert.segments_missing"),
    variant(EX, "valid_lens not passed on", "X = blk(X, valid_lens)", "X = blk(X, None)", loses={ENCODER},
            mistake="bert.valid_lens_dropped"),
    variant(EX, "batch index with .repeat",
            "torch.repeat_interleave(torch.arange(batch_size, device=X.device), num_preds)",
            "torch.arange(batch_size, device=X.device).repeat(num_preds)", loses={MASKLM, SMOKE},
            mistake="bert.mlm_batch_index_repeat"),
    variant(EX, "always <mask>", "if random.random() < 0.8:", "if True:", loses={DISTRIBUTION},
            mistake="bert.mask_always"),
    variant(EX, "no random token", f"masked_token = {RANDOM_TOKEN}", "masked_token = tokens[position]",
            loses={DISTRIBUTION}, mistake="bert.no_random_token"),
    variant(EX, "no unchanged token", "masked_token = tokens[position]", f"masked_token = {RANDOM_TOKEN}",
            loses={DISTRIBUTION}, mistake="bert.no_unchanged"),
    variant(EX, "uneven split of the 20 %", "elif random.random() < 0.5:", "elif random.random() < 0.8:",
            loses={DISTRIBUTION}, mistake="bert.uneven_split"),
    variant(EX, "random token from the sentence", RANDOM_TOKEN, "random.choice(tokens)", loses={FROM_VOCAB},
            mistake="bert.random_token_from_sentence"),
    variant(EX, "label after the replacement", "pred_positions_and_labels.append((position, tokens[position]))",
            "pred_positions_and_labels.append((position, mlm_input_tokens[position]))", loses={PICKS},
            mistake="bert.label_after_replacement"),
    variant(EX, "one prediction too many", "if len(pred_positions_and_labels) >= num_mlm_preds:",
            "if len(pred_positions_and_labels) > num_mlm_preds:", loses={PICKS}, mistake="bert.num_preds_wrong"),
    variant(EX, "positions not shuffled", "random.shuffle(candidate_pred_positions)",
            "candidate_pred_positions = list(candidate_pred_positions)", loses={PICKS},
            mistake="bert.positions_not_random"),
]
