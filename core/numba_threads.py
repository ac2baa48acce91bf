"""numba's threading layer for every parallel kernel of the suite (core/colour.py, ops/recurrent_scan.py),
imported by each before its first parallel call: numba's own workqueue, unless NUMBA_THREADING_LAYER names one.
Why: the OpenMP layer numba picks by default is a second OpenMP runtime beside torch's, and their idle threads
spin against each other (SVRNN's rung workers ran several times slower: docs/recipe.md). Each kernel's rows are
independent, so the layer changes the time, never the bytes."""
from __future__ import annotations

import os

import numba

# In the environment too: numba re-reads it when it changes (a worker's OMP_NUM_THREADS), undoing an assignment.
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
numba.config.THREADING_LAYER = os.environ["NUMBA_THREADING_LAYER"]
