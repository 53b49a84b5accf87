"""The generated text of the sequence chapters' smoke-checks (tutor.grading.text)."""

import pytest

from tutor.grading.text import (SOURCE_ADJECTIVES, SOURCE_WORDS, SUBJECTS, VERBS, TARGET_ADJECTIVES, TARGET_WORDS, char_corpus,
                                grammar_text, toy_translation)


def test_grammar_text_is_deterministic_and_its_verbs_agree():
    text = grammar_text(200, seed=1)
    assert text == grammar_text(200, seed=1) and text != grammar_text(200, seed=2)
    sentences = [s.strip() for s in text.split(" .") if s.strip()]
    assert len(sentences) == 200
    for s in sentences:
        plural = next(p for pair in SUBJECTS for p, subject in enumerate(pair) if s.startswith(subject + " "))
        verb = s.split()[2]
        assert any(verb == forms[plural] for forms in VERBS), s  # "the cat sees", "the cats see"


def test_char_corpus_round_trips():
    text = grammar_text(20, seed=0)
    corpus, chars = char_corpus(text)
    assert "".join(chars[i] for i in corpus.tolist()) == text
    assert chars == sorted(set(text)) and len(chars) < 30


def test_toy_translation_maps_words_and_moves_the_adjective_first():
    pairs = toy_translation(300, seed=3, min_len=2, max_len=4)
    assert pairs == toy_translation(300, seed=3, min_len=2, max_len=4)
    with_adjective = 0
    for source, target in pairs:
        numbers = [w for w in source if w in SOURCE_WORDS]
        assert 2 <= len(numbers) <= 4 and len(target) == len(source)
        if source[-1] in SOURCE_ADJECTIVES:
            with_adjective += 1
            assert target[0] == TARGET_ADJECTIVES[SOURCE_ADJECTIVES.index(source[-1])]
            target = target[1:]
        assert target == [TARGET_WORDS[SOURCE_WORDS.index(w)] for w in numbers]
    assert 100 < with_adjective < 300
    with pytest.raises(ValueError, match="min_len"):
        toy_translation(1, min_len=3, max_len=2)
