"""Generated text for the sequence chapters' smoke-checks (no downloads, deterministic for a seed).

`grammar_text` writes sentences of a small English-like grammar (subject, verb with agreement, object, an optional
adverb): enough structure for a character language model to beat the uniform model by a wide margin in a few
hundred steps, and little enough vocabulary that a from-scratch RNN learns it on a CPU. `char_corpus` turns text
into the indices of its characters. `toy_translation` makes parallel sentences of a tiny language pair (English
number words and their French counterparts, with a fixed reordering rule) for the encoder-decoder exercises.
"""

from __future__ import annotations

import torch

SUBJECTS = (("the cat", "the cats"), ("a dog", "two dogs"), ("my friend", "my friends"), ("the bird", "the birds"))
VERBS = (("sees", "see"), ("likes", "like"), ("chases", "chase"), ("hears", "hear"))
OBJECTS = ("the ball", "a tree", "the river", "some fish", "the moon")
ADVERBS = ("", "", " today", " again", " slowly")

# The two languages of `toy_translation`: number words, and an adjective that the target puts after the numbers.
SOURCE_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
TARGET_WORDS = ("un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix")
SOURCE_ADJECTIVES = ("big", "small", "red")
TARGET_ADJECTIVES = ("grand", "petit", "rouge")


def grammar_text(n_sentences: int, *, seed: int = 0) -> str:
    """`n_sentences` sentences of the grammar, each ending with " .", joined by single spaces, lower case.

    A sentence is a subject (singular or plural), a verb that agrees with it, an object and sometimes an adverb:
    "the cats chase the moon today ." The same arguments give the same text on every machine."""
    gen = torch.Generator().manual_seed(seed)

    def pick(options):
        return options[int(torch.randint(0, len(options), (1,), generator=gen))]

    sentences = []
    for _ in range(n_sentences):
        plural = int(torch.randint(0, 2, (1,), generator=gen))
        subject, verb = pick(SUBJECTS)[plural], pick(VERBS)[plural]
        sentences.append(f"{subject} {verb} {pick(OBJECTS)}{pick(ADVERBS)} .")
    return " ".join(sentences)


def char_corpus(text: str) -> tuple[torch.Tensor, list[str]]:
    """The text as an int64 tensor of character indices, and the characters (sorted) that the indices refer to."""
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return torch.tensor([index[c] for c in text], dtype=torch.int64), chars


def toy_translation(n: int, *, seed: int = 0, min_len: int = 2, max_len: int = 5) -> list[tuple[list[str], list[str]]]:
    """`n` sentence pairs (source tokens, target tokens) of a tiny language pair.

    A source sentence is `min_len` to `max_len` number words, optionally followed by an adjective ("three one four
    red"). Its translation maps each number word to its counterpart in the same order and puts the adjective FIRST
    ("rouge trois un quatre"): the decoder must carry a fact from the end of the source to the start of the
    target, which only a model that reads the whole source (an encoder-decoder) can do."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, not {min_len} and {max_len}")
    gen = torch.Generator().manual_seed(seed)
    pairs = []
    for _ in range(n):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=gen))
        words = torch.randint(0, len(SOURCE_WORDS), (length,), generator=gen).tolist()
        adjective = int(torch.randint(-1, len(SOURCE_ADJECTIVES), (1,), generator=gen))  # -1: none
        source = [SOURCE_WORDS[w] for w in words]
        target = [TARGET_WORDS[w] for w in words]
        if adjective >= 0:
            source.append(SOURCE_ADJECTIVES[adjective])
            target.insert(0, TARGET_ADJECTIVES[adjective])
        pairs.append((source, target))
    return pairs
