"""Learner files that try to score without doing the work (tests/test_attacks.py grades each on every path)."""
