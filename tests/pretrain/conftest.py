"""One torch thread per test process: the CI machines have 2 shared cores, and tiny models run
several times faster single-threaded than with oversubscribed intra-op threads."""

import os

import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by torchrun / subprocess children
torch.set_num_threads(1)
