"""What runs the computations: the compute pool and its jobs, the support cache, the
memory budget, the per-deployment limits, the Dask sweeps and the metrics."""
