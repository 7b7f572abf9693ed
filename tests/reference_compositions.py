"""Compositions with reuse and broadcasting, written once for both stn_np and PyTorch.

Each entry is ``(name, input shapes, fn)``; ``fn`` uses only operators and methods the two
libraries spell the same way, so ``data/make_torch_reference.py`` (run by hand where torch
is installed) and ``test_torch_reference.py`` (run everywhere) evaluate identical formulas.
"""

COMPOSITIONS = [
    ("reuse_square_plus_cube", [(3, 4)], lambda x: x * x + x * x * x),
    ("diamond", [(3, 4), (4,)], lambda a, b: ((a + b) * a + (a + b).exp()).tanh()),
    ("bias_nchw", [(2, 3, 4, 4), (3, 1, 1)], lambda x, b: ((x + b).relu() * b - b / (x * x + 1)).sigmoid()),
    ("mlp", [(5, 3), (3, 4), (4,), (4, 2)], lambda x, w1, b1, w2: ((x @ w1 + b1).tanh() @ w2).sigmoid() * 2 - 1),
    ("softmax_by_hand", [(4, 6)], lambda z: (z - z.max()).exp() / (z - z.max()).exp().sum()),
    ("pow_div_chain", [(3, 3), (1, 3)], lambda x, y: (x * x + 1) ** (y * y) / (y * y + 0.5) - x.mean()),
    ("clip_log", [(6,)], lambda x: (x.clip(-0.8, 0.8) + 1).log() * x),
]
