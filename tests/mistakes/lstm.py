"""Single-mistake variants of the lstm reference solution."""

from tests.mistakes import edits, variant

EX = "lstm"
VALUES = "lstm: the outputs and the final state follow the LSTM equations (shared parameters, T = 5, B = 3)"
EDGES = "lstm with one time step (T = 1) and with a batch of one (B = 1)"
PARAMS = "get_lstm_params: fourteen leaf tensors with the right shapes, small random weights, zero biases"
INIT = "init_lstm_state returns the pair (H, C) of zeros of shape (batch_size, num_hiddens)"
STATE = "lstm returns its state as the pair (H, C), and passing it back in continues the sequence"
GRADS = "gradients reach every parameter and flow back through time"
DEVICE = "everything lives on the device it was given"
SMOKE = "a character-level language model with your LSTM learns a small grammar"

VARIANTS = [
    variant(EX, "input and forget gates swapped", "C = F * C + I * C_tilde", "C = I * C + F * C_tilde",
            loses={VALUES, EDGES}, mistake="lstm.input_forget_swapped"),
    edits(EX, "memory cell not carried to the next step",
          [("C = F * C + I * C_tilde", "C_new = F * C + I * C_tilde"), ("H = O * torch.tanh(C)", "H = O * torch.tanh(C_new)")],
          loses={VALUES, EDGES}, mistake="lstm.cell_not_carried"),
    variant(EX, "no forget term: C = I * C~", "C = F * C + I * C_tilde", "C = I * C_tilde",
            loses={VALUES, EDGES}, mistake="lstm.forget_term_missing"),
    variant(EX, "H = tanh(C) without the output gate", "H = O * torch.tanh(C)", "H = torch.tanh(C)",
            loses={VALUES, EDGES}, mistake="lstm.output_gate_missing"),
    variant(EX, "sigmoid for the candidate cell", "C_tilde = torch.tanh(", "C_tilde = torch.sigmoid(",
            loses={VALUES, EDGES, SMOKE}, mistake="lstm.candidate_sigmoid"),
    variant(EX, "lstm returns the state as (H,) only", "return torch.cat(outputs, dim=0), (H, C)",
            "return torch.cat(outputs, dim=0), (H,)", loses={STATE}, mistake="lstm.state_h_only"),
    variant(EX, "lstm returns the state as a bare H", "return torch.cat(outputs, dim=0), (H, C)",
            "return torch.cat(outputs, dim=0), H", loses={STATE}, mistake="lstm.state_h_only"),
    variant(EX, "lstm returns the state as (C, H)", "return torch.cat(outputs, dim=0), (H, C)",
            "return torch.cat(outputs, dim=0), (C, H)", loses={VALUES, EDGES, STATE}, mistake="lstm.state_swapped"),
    variant(EX, "init_lstm_state returns (H,) only",
            "    return (torch.zeros((batch_size, num_hiddens), device=device),\n"
            "            torch.zeros((batch_size, num_hiddens), device=device))",
            "    return (torch.zeros((batch_size, num_hiddens), device=device),)", loses={INIT},
            mistake="lstm.init_state_h_only"),
    variant(EX, "outputs stacked instead of concatenated", "torch.cat(outputs, dim=0)", "torch.stack(outputs)",
            loses={VALUES, EDGES}, mistake="lstm.outputs_stacked"),
    variant(EX, "H and C detached at every step", "        I = torch.sigmoid(",
            "        H, C = H.detach(), C.detach()\n        I = torch.sigmoid(", loses={GRADS},
            mistake="lstm.state_detached"),
    variant(EX, "init_lstm_state creates the state on the default device",
            "torch.zeros((batch_size, num_hiddens), device=device)", "torch.zeros((batch_size, num_hiddens))",
            loses={DEVICE}, count=2),
    variant(EX, "get_lstm_params repeats one gate's tensors (list * 4)", "params = gate() + gate() + gate() + gate()",
            "params = gate() * 4", loses={PARAMS}, mistake="lstm.params_shared"),
]
