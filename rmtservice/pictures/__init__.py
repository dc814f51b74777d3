"""Pictures (matplotlib): the spectrum with its limit and outliers, and a sweep's
errors against n (:mod:`.plot`)."""
