"""d2l-tutor: a terminal tutor for the PyTorch edition of Dive into Deep Learning.

Layers import only what they need: the CLI and the TUI never import torch;
torch is imported only inside the grading child process (tutor.engine.child).
"""

__version__ = "0.1.0"
