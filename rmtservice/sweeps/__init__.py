"""Sweeps over n: per-trial statistics and rate fits (:mod:`.statistics`), and the
plan and store that run them on Dask (:mod:`.store`)."""
