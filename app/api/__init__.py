"""Thin endpoints: schema in -> core call (in a worker thread) -> schema out."""
