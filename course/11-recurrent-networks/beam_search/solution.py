"""Reference solution: beam search with length normalisation (course 11.8; d2l-zh 9.8, d2l-en 10.8)."""

import torch


def beam_search(next_log_probs, bos_id, eos_id, beam_size, max_len, alpha=0.75):
    """Expand every live hypothesis by every token in one batched call per step, keep the beam_size best
    expansions by total log-probability, retire the finished ones, and rank them by log P / len ** alpha."""
    live = [[]]          # token lists (bos excluded) of the unfinished hypotheses
    live_logp = [0.0]    # their total log-probabilities, as Python floats
    finished = []        # (tokens, total log-probability)
    while live:
        prefixes = torch.tensor([[bos_id] + tokens for tokens in live], dtype=torch.long)
        log_probs = next_log_probs(prefixes)                                  # (n, vocab)
        totals = torch.tensor(live_logp, dtype=torch.float64, device=log_probs.device)[:, None] \
            + log_probs.to(torch.float64)
        vocab = totals.shape[1]
        values, order = torch.sort(totals.reshape(-1), descending=True, stable=True)
        next_live, next_logp = [], []
        for flat, total in zip(order[:beam_size].tolist(), values[:beam_size].tolist()):
            row, token = divmod(flat, vocab)
            tokens = live[row] + [token]
            if token == eos_id or len(tokens) == max_len:
                finished.append((tokens, total))
            else:
                next_live.append(tokens)
                next_logp.append(total)
        live, live_logp = next_live, next_logp
    ranked = sorted(((tokens, total / len(tokens) ** alpha) for tokens, total in finished),
                    key=lambda item: (-item[1], item[0]))
    return ranked[:beam_size]
