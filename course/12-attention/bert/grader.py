"""Tests and smoke-check for exercise bert (d2l 12.6: BERT pre-training).

The visible tests (also in the student build) check values written in the test, shapes, and statistics with
bounds stated in the test; the hidden ones compare with the reference given copied weights. The transformer
blocks are the given EncoderBlock (exercise transformer's reference); the vocabularies passed to
replace_mlm_tokens are the given Vocab, built in the sandbox.
"""

import time

import torch
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("bert")


def randn(shape, device, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen).to(device)


# -- calling the learner's code ------------------------------------------------------------------------------------

def construct(ctx, name, *args, **kwargs):
    """The learner's module `name` on ctx.device in eval mode, and how it was built."""
    cls = ctx.fn(name)
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("{name} does not subclass nn.Module. Keep the declaration `class {name}(nn.Module):` and "
                          "call super().__init__() first in __init__.", name=name)
    what = f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
    try:
        module = cls(*args, **kwargs)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          what=what)
    return module.to(ctx.device).eval(), what


def call(ctx, module, what, *args):
    text = f"{what}({', '.join(describe(a) for a in args)})"
    try:
        got = module(*args)
    except RemoteError as exc:
        raise ctx.explain(exc, text) from None
    check_type(got, text)
    return got, text


def copy_weights(ours, mine, what):
    """Load the state dict `ours` into the learner's module by name, saying clearly when the names differ."""
    theirs = mine.state_dict()
    lacking = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    if lacking or extra:
        failure = TestFailure("the grader copies the reference's weights into your {what} by name, but the names "
                              "differ.\n    missing in yours: {lacking}\n    extra in yours:   {extra}", what=what,
                              lacking=", ".join(lacking) or "(none)", extra=", ".join(extra) or "(none)")
        if lacking and all(".bias" in k and ".attention." in k for k in lacking):
            failure.with_part(TestFailure("  The attention layers of your blocks have no biases: the book's BERT "
                                          "creates each block with use_bias=True (the last positional argument of "
                                          "EncoderBlock).", mistake="bert.blocks_without_bias"))
        else:
            failure.with_part(TestFailure("  Use the attribute names of the stub's docstring (token_embedding, "
                                          "segment_embedding, blks with blocks named 0, 1, ..., pos_embedding; mlp; "
                                          "output) and create no other parameters."))
        raise failure
    for key, value in ours.items():
        if tuple(theirs[key].shape) != tuple(value.shape):
            raise TestFailure("in your {what}, {key} has shape {shape}, expected {expected}.", what=what, key=key,
                              shape=str(tuple(theirs[key].shape)), expected=str(tuple(value.shape)))
    mine.load_state_dict(ours)


def reference_module(ctx, name, *args, seed=0, **kwargs):
    torch.manual_seed(seed)
    return ctx.ref(name)(*args, **kwargs).to(ctx.device).eval()


class SandboxVocab:
    """A Vocab built in the sandbox (the given one, or the learner's own)."""

    def __init__(self, ctx, tokens, reserved):
        cls = ctx.learner("Vocab")
        if cls is None:
            raise TestFailure("your file has no Vocab: keep the stub's line `from tutor.given import Vocab`. The "
                              "grader builds the vocabulary it passes to replace_mlm_tokens with it.")
        self.what = f"Vocab(<{len(tokens)} words>, reserved_tokens={list(reserved)!r})"
        try:
            self.obj = cls(tokens, reserved_tokens=list(reserved))
        except RemoteError as exc:
            raise ctx.explain(exc, self.what) from None


def replace(ctx, tokens, candidates, num, vocab):
    """The learner's replace_mlm_tokens(tokens, candidates, num, vocab), checked to return a well-formed pair."""
    fn = ctx.fn("replace_mlm_tokens")
    shown = tokens if len(tokens) <= 8 else f"<{len(tokens)} tokens>"
    what = f"replace_mlm_tokens({shown!r}, <{len(candidates)} candidates>, {num}, {vocab.what})"
    try:
        result = fn.__wrapped__(list(tokens), list(candidates), num, vocab.obj)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TestFailure("{call} returned {got}; expected a pair (mlm_input_tokens, pred_positions_and_labels).",
                          call=what, got=describe(result))
    new, pairs = result
    if not isinstance(new, list) or len(new) != len(tokens):
        raise TestFailure("{call}: mlm_input_tokens must be a list as long as tokens ({n}); got {got}.", call=what,
                          n=len(tokens), got=describe(new))
    try:
        pairs = [(int(p), str(t)) for p, t in pairs]
    except (TypeError, ValueError):
        raise TestFailure("{call}: pred_positions_and_labels must be a list of (position, token) pairs; got {got}.",
                          call=what, got=describe(pairs)) from None
    return new, pairs, what


# -- visible tests ------------------------------------------------------------------------------------------------

@grader.test("get_tokens_and_segments: <cls>, <sep> and segment ids for one sentence and a pair", points=1)
def segments(ctx):
    """The book's segment rows [0, 0, 0, 0, 1, 1, 1, 1] (A of 2 tokens, B of 3) and [0, 0, 0, 1, 1, 1, 1, 1] (A of
    1 token, B of 4), and a single sentence."""
    fn = ctx.fn("get_tokens_and_segments")
    cases = [
        ((["a", "b"], ["c", "d", "e"]), (["<cls>", "a", "b", "<sep>", "c", "d", "e", "<sep>"], [0, 0, 0, 0, 1, 1, 1, 1])),
        ((["x"], ["y", "z", "y", "z"]), (["<cls>", "x", "<sep>", "y", "z", "y", "z", "<sep>"], [0, 0, 0, 1, 1, 1, 1, 1])),
        ((["this", "movie", "is", "great"],), (["<cls>", "this", "movie", "is", "great", "<sep>"], [0, 0, 0, 0, 0, 0])),
    ]
    for args, (tokens, segs) in cases:
        what = fn.describe(*args)
        got = fn(*args)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise TestFailure("{call} returned {got}; expected a pair (tokens, segments).", call=what, got=describe(got))
        got_tokens, got_segs = list(got[0]), [int(s) for s in got[1]]
        if got_tokens != tokens:
            raise TestFailure("{call} returned the tokens {got}; expected {expected}: <cls> first, then A and <sep>, "
                              "then (for a pair) B and another <sep>.", call=what, got=repr(got_tokens),
                              expected=repr(tokens))
        if got_segs != segs:
            failure = TestFailure("{call} returned the segments {got}; expected {expected}.", call=what,
                                  got=repr(got_segs), expected=repr(segs))
            if len(args) == 2 and len(got_segs) == len(segs) and got_segs[len(args[0]) + 1] == 1:
                failure.with_part(TestFailure("  The first <sep> closes sentence A, so it belongs to segment 0; only "
                                              "B and the last <sep> are segment 1.", mistake="bert.sep_segment"))
            raise failure


DEMO = dict(vocab_size=100, num_hiddens=24, ffn_num_hiddens=48, num_heads=4, num_layers=2)


def demo_encoder_args(dropout=0.0):
    return (100, 24, [24], 24, 48, 4, 2, dropout)


DEMO_KW = dict(max_len=50, key_size=24, query_size=24, value_size=24)


def demo_inputs(device):
    tokens = torch.randint(0, 100, (2, 8), generator=torch.Generator().manual_seed(7)).to(device)
    segs = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 1]], device=device)
    return tokens, segs


@grader.test("the book's demo at width 24: encoder (2, 8, 24), MaskLM (2, 3, 100), NextSentencePred (2, 2)", points=1)
def shapes(ctx):
    """The book's demo with vocab_size 100, num_hiddens 24 (768 in the book), ffn_num_hiddens 48, 4 heads, 2
    layers; tokens (2, 8) with the book's segments; MaskLM at positions [[1, 5, 2], [6, 1, 5]];
    NextSentencePred on the flattened encodings (2, 192)."""
    ctx.seed(0)
    encoder, what = construct(ctx, "BERTEncoder", *demo_encoder_args(), **DEMO_KW)
    tokens, segs = demo_inputs(ctx.device)
    with torch.no_grad():
        encoded, text = call(ctx, encoder, what, tokens, segs, None)
    if tuple(encoded.shape) != (2, 8, 24):
        raise TestFailure("{call} returned shape {shape}; expected (2, 8, 24), i.e. (B, T, num_hiddens).", call=text,
                          shape=str(tuple(encoded.shape)))
    mlm, what = construct(ctx, "MaskLM", 100, 24, num_inputs=24)
    positions = torch.tensor([[1, 5, 2], [6, 1, 5]], device=ctx.device)
    with torch.no_grad():
        got, text = call(ctx, mlm, what, encoded, positions)
    if tuple(got.shape) != (2, 3, 100):
        raise TestFailure("{call} returned shape {shape}; expected (2, 3, 100), i.e. (B, P, vocab_size).", call=text,
                          shape=str(tuple(got.shape)))
    nsp, what = construct(ctx, "NextSentencePred", 192)
    with torch.no_grad():
        got, text = call(ctx, nsp, what, encoded.reshape(2, -1))
    if tuple(got.shape) != (2, 2):
        raise TestFailure("{call} returned shape {shape}; expected (2, 2).", call=text, shape=str(tuple(got.shape)))


# replace_mlm_tokens: a vocabulary of 100 tokens (<unk>, 4 reserved, 95 words); sentences use only 10 of the words
RESERVED = ["<pad>", "<cls>", "<sep>", "<mask>"]
WORDS = [f"w{i}" for i in range(95)]
SENTENCE_WORDS = WORDS[:10]


def long_sentence(n, seed):
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(SENTENCE_WORDS), (n,), generator=gen).tolist()
    return ["<cls>"] + [SENTENCE_WORDS[i] for i in picks] + ["<sep>"]


def masking_draws(ctx):
    """4000 chosen positions (two calls predicting all 2000 word positions): (original, new) token pairs."""
    ctx.seed(3)
    vocab = SandboxVocab(ctx, WORDS, RESERVED)
    draws = []
    for seed in (11, 12):
        tokens = long_sentence(2000, seed)
        new, pairs, what = replace(ctx, tokens, list(range(1, 2001)), 2000, vocab)
        if len(pairs) != 2000:
            raise TestFailure("{call} returned {n} (position, label) pairs; with 2000 candidates and num_mlm_preds = "
                              "2000 it must return 2000.", call=what, n=len(pairs))
        draws += [(tokens[p], new[p]) for p, _ in pairs]
    return draws


@grader.test("replace_mlm_tokens: <mask> 80 %, a random token 10 %, unchanged 10 % (4000 draws)", points=2)
def masking_distribution(ctx):
    """All 2000 word positions of two long sentences are predicted. In a vocabulary of V = 100 tokens the expected
    shares are <mask> 0.8 + 0.1/V = 0.801, unchanged 0.1 + 0.1/V = 0.101 (a random token can be the original) and
    another token 0.098. Accepted: <mask> within ±0.03 (4.7 standard deviations), the other two within ±0.025 (5
    standard deviations), so a correct rule fails by chance less than once in a million runs."""
    draws = masking_draws(ctx)
    n = len(draws)
    mask = sum(new == "<mask>" for _, new in draws) / n
    same = sum(new == old for old, new in draws) / n
    other = 1 - mask - same
    ok = abs(mask - 0.801) <= 0.03 and abs(same - 0.101) <= 0.025 and abs(other - 0.098) <= 0.025
    if ok:
        return
    failure = TestFailure("over {n} predicted positions, replace_mlm_tokens gave <mask> {mask:.3f}, the original "
                          "token {same:.3f} and another token {other:.3f}; expected about 0.801 (±0.03), 0.101 "
                          "(±0.025) and 0.098 (±0.025). Each chosen position draws independently: <mask> with "
                          "probability 0.8; otherwise, with probability 1/2 each, the token stays or becomes a "
                          "random token of the vocabulary.", n=n, mask=mask, same=same, other=other)
    if mask > 0.95:
        failure.with_part(TestFailure("  Every chosen position became <mask>: BERT keeps 10 % unchanged and "
                                      "replaces 10 % by a random token, so that the model cannot rely on seeing "
                                      "<mask> (which never occurs when it is fine-tuned).",
                                      mistake="bert.mask_always"))
    elif abs(mask - 0.801) <= 0.03 and other < 0.03:
        failure.with_part(TestFailure("  The random-token case is missing: of the 20 % not masked, half must become "
                                      "a random token of the vocabulary.", mistake="bert.no_random_token"))
    elif abs(mask - 0.801) <= 0.03 and same < 0.04:
        failure.with_part(TestFailure("  The unchanged case is missing: of the 20 % not masked, half must keep "
                                      "their token.", mistake="bert.no_unchanged"))
    elif abs(mask - 0.801) <= 0.03:
        failure.with_part(TestFailure("  <mask> is right but the remaining 20 % are split wrongly: the second draw "
                                      "(after the 80 % test failed) must be a fair coin, random.random() < 0.5, "
                                      "giving 10 % and 10 % of all positions.", mistake="bert.uneven_split"))
    raise failure


# -- hidden tests ------------------------------------------------------------------------------------------------

@grader.test("replace_mlm_tokens: random tokens come from the whole vocabulary, not the sentence", points=1,
             hidden=True)
def random_from_vocab(ctx):
    """The sentences use 10 words of a 100-token vocabulary; of the ~390 replacements by another token, about 89/98
    = 0.91 lie outside the sentence's words. Accepted: at least 0.7."""
    draws = masking_draws(ctx)
    others = [new for old, new in draws if new != old and new != "<mask>"]
    if len(others) < 100:
        return  # the distribution test reports it
    outside = sum(t not in SENTENCE_WORDS for t in others) / len(others)
    unknown = [t for t in others if t not in WORDS and t not in RESERVED and t != "<unk>"]
    if unknown:
        raise TestFailure("replace_mlm_tokens put {token!r} into the sequence, which is not a token of the "
                          "vocabulary. Draw the random token from the vocabulary: vocab.to_tokens(random.randrange("
                          "len(vocab))) (or random.choice(vocab.idx_to_token) with the book's Vocab).",
                          token=unknown[0])
    if outside < 0.7:
        raise TestFailure("only {share:.2f} of the random replacements are tokens outside the sentence, although "
                          "the vocabulary has 100 tokens and the sentence uses 10 words (expected about 0.91). The "
                          "random token comes from the whole vocabulary (vocab.to_tokens(random.randrange(len(vocab))"
                          ")), not from the sentence's own tokens.", share=outside,
                          mistake="bert.random_token_from_sentence")


@grader.test("replace_mlm_tokens: num_mlm_preds distinct random candidates, labelled with the original tokens",
             points=1, hidden=True)
def picks_and_labels(ctx):
    """300 calls on 12 tokens with 10 candidates and num_mlm_preds = 3: each call returns 3 distinct candidates;
    each candidate is picked 90 times on average (accepted: 45 to 135, more than 5 standard deviations); labels
    are the original tokens; positions not picked keep their tokens; and num_mlm_preds = 20 > 10 candidates
    gives all 10."""
    ctx.seed(5)
    vocab = SandboxVocab(ctx, WORDS, RESERVED)
    tokens = ["<cls>"] + WORDS[20:30] + ["<sep>"]
    candidates = list(range(1, 11))
    counts = [0] * 12
    for _ in range(300):
        new, pairs, what = replace(ctx, tokens, candidates, 3, vocab)
        positions = [p for p, _ in pairs]
        if len(pairs) != 3:
            raise TestFailure("{call} returned {n} (position, label) pairs; expected num_mlm_preds = 3. Stop as "
                              "soon as len(pred_positions_and_labels) >= num_mlm_preds.", call=what, n=len(pairs),
                              mistake="bert.num_preds_wrong")
        if len(set(positions)) != 3 or any(p not in candidates for p in positions):
            raise TestFailure("{call} returned the positions {got}; they must be 3 DIFFERENT candidate positions "
                              "(1 to 10).", call=what, got=repr(positions))
        for p, label in pairs:
            if label != tokens[p]:
                raise TestFailure("{call} labelled position {p} with {label!r}, but the token there was {orig!r}. "
                                  "The label is the ORIGINAL token (what the model must predict), taken from "
                                  "tokens, not from the sequence after the replacement.", call=what, p=p,
                                  label=label, orig=tokens[p], mistake="bert.label_after_replacement")
            counts[p] += 1
        for i, tok in enumerate(tokens):
            if i not in positions and new[i] != tok:
                raise TestFailure("{call} changed position {i} ({orig!r} -> {got!r}), which is not among the picked "
                                  "positions {picked}. Only picked positions may change.", call=what, i=i, orig=tok,
                                  got=new[i], picked=repr(positions))
    low, high = min(counts[1:11]), max(counts[1:11])
    if low < 45 or high > 135:
        raise TestFailure("in 300 calls with 10 candidates and num_mlm_preds = 3, the candidates were picked between "
                          "{low} and {high} times; each should be picked about 90 times (accepted: 45 to 135). Pick "
                          "the positions at random: shuffle candidate_pred_positions (random.shuffle) and take them in "
                          "that order.", low=low, high=high, mistake="bert.positions_not_random")
    new, pairs, what = replace(ctx, tokens, candidates, 20, vocab)
    if sorted(p for p, _ in pairs) != candidates:
        raise TestFailure("{call} returned the positions {got}; with more predictions wanted (20) than candidates "
                          "(10), every candidate is picked once.", call=what, got=repr(sorted(p for p, _ in pairs)),
                          mistake="bert.num_preds_wrong")


def encoder_pair(ctx, seed=0):
    ref = reference_module(ctx, "BERTEncoder", *demo_encoder_args(), seed=seed, **DEMO_KW)
    mine, what = construct(ctx, "BERTEncoder", *demo_encoder_args(), **DEMO_KW)
    copy_weights(ref.state_dict(), mine, what)
    return ref, mine, what


def encoder_variant(ref, tokens, segs, valid_lens, *, segments=True, positions=True, lens=True):
    X = ref.token_embedding(tokens)
    if segments:
        X = X + ref.segment_embedding(segs)
    if positions:
        X = X + ref.pos_embedding[:, :X.shape[1], :]
    for blk in ref.blks:
        X = blk(X, valid_lens if lens else None)
    return X


@grader.test("position embeddings are a learned nn.Parameter (1, max_len, num_hiddens) that gets gradients",
             points=1, hidden=True)
def positions_learned(ctx):
    """BERTEncoder(..., max_len=50) with num_hiddens 24: pos_embedding is an nn.Parameter of shape (1, 50, 24);
    after backpropagating from the output of 8-token sequences, its rows 0 to 7 have a non-zero gradient and rows
    8 to 49 a zero one."""
    ctx.seed(1)
    mine, what = construct(ctx, "BERTEncoder", *demo_encoder_args(), **DEMO_KW)
    params = dict(mine.named_parameters())
    if "pos_embedding" not in params:
        raise TestFailure("your {what} has no parameter named pos_embedding. BERT's positions are learned: create "
                          "self.pos_embedding = nn.Parameter(torch.randn(1, max_len, num_hiddens)) (a plain tensor "
                          "or a buffer is not trained).", what=what, mistake="bert.pos_not_parameter")
    P = params["pos_embedding"]
    if tuple(P.shape) != (1, 50, 24):
        raise TestFailure("in your {what}, pos_embedding has shape {shape}; expected (1, max_len, num_hiddens) = "
                          "(1, 50, 24).", what=what, shape=str(tuple(P.shape)))
    tokens, segs = demo_inputs(ctx.device)
    out, text = call(ctx, mine, what, tokens, segs, None)
    (out * randn(tuple(out.shape), ctx.device, 8)).sum().backward()
    if P.grad is None or not bool(P.grad[0, :8].abs().sum(dim=-1).gt(0).all()):
        with torch.no_grad():
            before = out.detach().clone()
            P.add_(1.0)
            after, _ = call(ctx, mine, what, tokens, segs, None)
            P.sub_(1.0)
        if torch.allclose(before, after.detach()):
            raise TestFailure("the output of {call} does not change when pos_embedding changes: the position "
                              "embeddings are never added. Add self.pos_embedding[:, :T, :] to the token and segment "
                              "embeddings.", call=text, mistake="bert.positions_missing")
        raise TestFailure("after backpropagating through {call}, pos_embedding has no gradient: autograd does not "
                          "see it, so the positions are never learned. The book's code adds "
                          "self.pos_embedding.data[:, :T, :]; .data hides the parameter from autograd. Add "
                          "self.pos_embedding[:, :T, :] itself.", call=text, mistake="bert.pos_embedding_data")
    if bool(P.grad[0, 8:].abs().sum() > 0):
        raise TestFailure("after backpropagating through {call} (T = 8), rows 8 and beyond of pos_embedding got a "
                          "gradient: add only the first T rows, pos_embedding[:, :T, :].", call=text)


@grader.test("BERTEncoder equals the reference with the same weights (segments, positions, valid_lens)",
             points=2, hidden=True)
def encoder_values(ctx):
    """The demo encoder (2 blocks, width 24) with the reference's weights, eval mode, dropout 0, on the book's
    segments with valid_lens [5, 8] and with None."""
    ref, mine, what = encoder_pair(ctx)
    tokens, segs = demo_inputs(ctx.device)
    for valid in ([5, 8], None):
        valid_lens = None if valid is None else torch.tensor(valid, device=ctx.device)
        with torch.no_grad():
            expected = ref(tokens, segs, valid_lens)
            got, text = call(ctx, mine, what, tokens, segs, valid_lens)
        try:
            check_tensor(got, expected, f"{text} with valid_lens = {valid} and the reference's weights (eval mode)",
                         atol=1e-4, rtol=1e-4)
        except TestFailure as failure:
            if got.shape == expected.shape:
                with torch.no_grad():
                    known = [
                        (dict(segments=False), TestFailure("  Your output matches the encoder without segment "
                                                           "embeddings: add segment_embedding(segments) to the token "
                                                           "embeddings.", mistake="bert.segments_missing")),
                        (dict(positions=False), TestFailure("  Your output matches the encoder without position "
                                                            "embeddings: add pos_embedding[:, :T, :].",
                                                            mistake="bert.positions_missing")),
                        (dict(lens=False), TestFailure("  Your output matches the encoder that ignores valid_lens: "
                                                       "pass valid_lens to every block, blk(X, valid_lens), so that "
                                                       "padding is masked.", mistake="bert.valid_lens_dropped")),
                    ]
                    for kw, why in known:
                        variant = encoder_variant(ref, tokens, segs, valid_lens, **kw)
                        if not torch.allclose(variant, expected, atol=1e-5) and \
                                torch.allclose(got.detach(), variant, atol=1e-4, rtol=1e-4):
                            failure.with_part(why)
                            break
            raise failure from None


@grader.test("MaskLM picks each sequence's own positions; NextSentencePred is one linear layer", points=1,
             hidden=True)
def masklm_gather(ctx):
    """Positions [[1, 5, 2], [6, 1, 5]] and [[0, 3], [2, 2], [7, 0]] on random encodings, the reference's weights;
    NextSentencePred(24) against the reference; tensors created on the inputs' device."""
    ref = reference_module(ctx, "MaskLM", 100, 24, num_inputs=24, seed=2)
    mine, what = construct(ctx, "MaskLM", 100, 24, num_inputs=24)
    copy_weights(ref.state_dict(), mine, what)
    for B, rows in ((2, [[1, 5, 2], [6, 1, 5]]), (3, [[0, 3], [2, 2], [7, 0]])):
        X = randn((B, 8, 24), ctx.device, 20 + B)
        positions = torch.tensor(rows, device=ctx.device)
        with torch.no_grad():
            expected = ref(X, positions)
            got, text = call(ctx, mine, what, X, positions)
        try:
            check_tensor(got, expected, f"{text} with pred_positions = {rows} and the reference's weights",
                         atol=1e-5, rtol=1e-4)
        except TestFailure as failure:
            if got.shape == expected.shape:
                with torch.no_grad():
                    wrong = torch.arange(B, device=ctx.device).repeat(len(rows[0]))
                    variant = ref.mlp(X[wrong, positions.reshape(-1)].reshape(B, len(rows[0]), -1))
                if torch.allclose(got.detach(), variant, atol=1e-4, rtol=1e-4):
                    failure.with_part(TestFailure(
                        "  Your result takes some positions from the wrong sequence: the batch index was built with "
                        ".repeat (0, 1, 0, 1, ...), but row b of pred_positions belongs to sequence b, so each b must "
                        "be repeated P times in a row: torch.repeat_interleave(torch.arange(B), P).",
                        mistake="bert.mlm_batch_index_repeat"))
            raise failure from None
    if ctx.should_probe_devices():
        meta = mine.to("meta")
        X = torch.ones(2, 8, 24, device="meta")
        positions = torch.zeros(2, 3, dtype=torch.long, device="meta")
        got = ctx.run_on_meta(f"{what}(X on meta, pred_positions on meta)", lambda: meta(X, positions),
                              "  Create the batch index on X's device: torch.arange(B, device=X.device).")
        if isinstance(got, torch.Tensor) and got.device.type != "meta":
            raise TestFailure("{what} returned a tensor on {device}, not on the inputs' device.", what=what,
                              device=str(got.device))
    ref = reference_module(ctx, "NextSentencePred", 24, seed=3)
    mine, what = construct(ctx, "NextSentencePred", 24)
    copy_weights(ref.state_dict(), mine, what)
    X = randn((4, 24), ctx.device, 30)
    with torch.no_grad():
        got, text = call(ctx, mine, what, X)
        check_tensor(got, ref(X), text + " with the reference's weights", atol=1e-5, rtol=1e-4)


# -- smoke-check -------------------------------------------------------------------------------------------------
# A generated corpus with learnable structure. Sentence A is L = 5 words counting up from a random start by a step
# of 1, 2 or 3 among the 16 "counting" words (modulo 16). In a pair, B either continues A (label 1: it starts where A
# would go on, with A's step) or comes from another topic (label 0): it counts the same way among 8 "other" words
# that never occur in A, so next-sentence prediction is learnable in the budget while the masked words stay
# predictable from their neighbours in both halves. Ids: 0 <pad>, 1 <cls>, 2 <sep>, 3 <mask>, 4 .. 19 the counting
# words, 20 .. 27 the other topic.

N_COUNT, N_OTHER, L, SPECIALS = 16, 8, 5, 4
V = SPECIALS + N_COUNT + N_OTHER
T = 3 + 2 * L
H, STEPS, BATCH, NUM_PREDS = 32, 200, 64, 2
MLM_GOAL, NSP_GOAL = 0.2, 0.8  # masked-LM chance 1/28 = 0.04; next-sentence chance 0.5


def bert_batch(n, gen):
    start = torch.randint(0, N_COUNT, (n,), generator=gen)
    step = torch.randint(1, 4, (n,), generator=gen)
    label = torch.randint(0, 2, (n,), generator=gen)
    idx = torch.arange(L)
    a = (start[:, None] + step[:, None] * idx) % N_COUNT
    follow = (start[:, None] + step[:, None] * (idx + L)) % N_COUNT
    other = N_COUNT + (torch.randint(0, N_OTHER, (n, 1), generator=gen)
                       + torch.randint(1, 4, (n, 1), generator=gen) * idx) % N_OTHER
    b = torch.where(label[:, None] == 1, follow, other)
    cls, sep = torch.full((n, 1), 1), torch.full((n, 1), 2)
    tokens = torch.cat([cls, a + SPECIALS, sep, b + SPECIALS, sep], dim=1)
    segs = torch.cat([torch.zeros(n, L + 2, dtype=torch.long), torch.ones(n, L + 1, dtype=torch.long)], dim=1)
    word_pos = torch.cat([torch.arange(1, L + 1), torch.arange(L + 2, 2 * L + 2)])
    order = torch.rand(n, 2 * L, generator=gen).argsort(dim=1)[:, :NUM_PREDS]
    positions = word_pos[order]                                   # (n, NUM_PREDS), distinct per row
    labels = tokens.gather(1, positions)
    r = torch.rand(n, NUM_PREDS, generator=gen)
    coin = torch.rand(n, NUM_PREDS, generator=gen)
    rand_tok = torch.randint(SPECIALS, V, (n, NUM_PREDS), generator=gen)
    replaced = torch.where(r < 0.8, torch.full_like(labels, 3), torch.where(coin < 0.5, labels, rand_tok))
    inputs = tokens.scatter(1, positions, replaced)
    return inputs, segs, torch.full((n,), T), positions, labels, label


def score(mlm_acc, nsp_acc):
    """The graded number: each accuracy over its goal, the weaker of the two (at least 1 when both goals are met)."""
    return min(mlm_acc / MLM_GOAL, nsp_acc / NSP_GOAL)


class TinyBERT(nn.Module):
    """The book's BERTModel with the learner's parts: the NSP head reads the <cls> encoding through Linear + Tanh."""

    def __init__(self, encoder, mlm, nsp):
        super().__init__()
        self.encoder, self.mlm, self.nsp = encoder, mlm, nsp
        self.hidden = nn.Sequential(nn.Linear(H, H), nn.Tanh())

    def forward(self, tokens, segs, valid_lens, positions):
        X = self.encoder(tokens, segs, valid_lens)
        return self.mlm(X, positions), self.nsp(self.hidden(X[:, 0, :]))


def pretrain(ctx, parts, data, report):
    train, test = data
    torch.manual_seed(1)
    net = TinyBERT(*parts).to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.005)
    loss_fn = nn.CrossEntropyLoss()

    def accuracies():
        net.eval()
        with torch.no_grad():
            tokens, segs, lens, positions, labels, nsp_y = test
            mlm_hat, nsp_hat = net(tokens, segs, lens, positions)
            mlm_acc = (mlm_hat.argmax(dim=-1) == labels).double().mean().item()
            nsp_acc = (nsp_hat.argmax(dim=-1) == nsp_y).double().mean().item()
        net.train()
        return mlm_acc, nsp_acc

    accs = None
    for step, (tokens, segs, lens, positions, labels, nsp_y) in enumerate(train, start=1):
        mlm_hat, nsp_hat = net(tokens, segs, lens, positions)
        loss = loss_fn(mlm_hat.reshape(-1, V), labels.reshape(-1)) + loss_fn(nsp_hat, nsp_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if report and step % 25 == 0:
            accs = accuracies()
        if report and accs is None:
            ctx.step(step, loss=loss.item())
        elif report:
            ctx.step(step, loss=loss.item(), mlm_accuracy=accs[0], nsp_accuracy=accs[1], score=score(*accs))
    return accuracies()


def parts_of(ctx, make):
    return (make("BERTEncoder", V, H, [H], H, 2 * H, 2, 1, 0.0, max_len=T, key_size=H, query_size=H, value_size=H),
            make("MaskLM", V, H, num_inputs=H), make("NextSentencePred", H))


@grader.smoke("a tiny BERT of your parts learns masked-LM and next-sentence prediction", points=2,
              metric="min(masked-LM accuracy / 0.2, next-sentence accuracy / 0.8)", goal="min",
              # reference over seeds 0..9: 1.23-1.25 (masked-LM 0.28-0.44, next-sentence 0.98-1.00); MaskLM's
              # batch index built with .repeat (bert.mlm_batch_index_repeat): 0.25-0.36 (masked-LM 0.05-0.07);
              # chance: min(0.04 / 0.2, 0.5 / 0.8) = 0.18
              threshold=1.0, budget=15, plot="score", hidden=True)
def bert_learns(ctx):
    """Pairs of counting sentences (a start and a step of 1 to 3, modulo 16); B continues A or counts among 8 words
    of another topic. 2 of the 10 words of each pair are hidden by the 80/10/10 rule and must be predicted, and the
    model must tell whether B continues A. One block of width 32 with 2 heads, 200 Adam steps of 64 pairs;
    accuracies on 1000 held-out pairs. Graded: the weaker of masked-LM accuracy / 0.2 and next-sentence accuracy /
    0.8, so 1 or more means both goals are met."""
    gen = ctx.seed(0)
    to = lambda batch: tuple(t.to(ctx.device) for t in batch)  # noqa: E731
    data = ([to(bert_batch(BATCH, gen)) for _ in range(STEPS)], to(bert_batch(1000, gen)))
    ctx.seed(0)
    mine = parts_of(ctx, lambda name, *a, **k: construct(ctx, name, *a, **k)[0].train())
    mlm_acc, nsp_acc = pretrain(ctx, mine, data, report=True)
    torch.manual_seed(0)
    theirs = parts_of(ctx, lambda name, *a, **k: ctx.ref(name)(*a, **k).to(ctx.device))
    ref_mlm, ref_nsp = pretrain(ctx, theirs, data, report=False)
    return {"value": score(mlm_acc, nsp_acc), "reference": score(ref_mlm, ref_nsp)}
