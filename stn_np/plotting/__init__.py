"""Figures written by the command line and used by the notebooks.

One module per job (``training``, ``registration``). Figures are built on
``matplotlib.figure.Figure`` directly, never through ``pyplot``'s global state, so they work
without a display and do not leak between calls; files are written atomically.
"""
