"""A bounded LRU cache of prepared limits: the core measure of a request's ``measure``
and the support of its limit for ``sigma2`` (:func:`rmtservice.wire.service.prepare`).

Requests with the same spectrum and noise but other spikes, points or observations (the
common case for outliers) then skip building the measure and searching the support,
most of the work of a small request. The key is a BLAKE2 digest of the measure's JSON
as pydantic writes it, with ``sigma2``: equal requests give equal keys; equal measures
written differently (weights given or left out, ``1`` or ``1.0``) are separate entries,
which costs a miss, never a wrong answer. Errors are not cached.

An entry is shared by every request that hits it, so it is made immutable before it is
stored: every numpy array reachable from the measure and the support (the treecode's
included) is marked read-only; the dataclasses holding them are frozen already.

Bounded twice: at most ``size`` entries and ``max_atoms`` atoms over all entries
(memory grows with the atoms: about 50 bytes each, treecode included); a measure over
``max_atoms`` on its own is computed and not kept. ``size == 0`` turns the cache off.
Thread-safe: lookups and insertions hold a lock; the computation does not (two threads
missing the same key both compute it, and the later result is kept).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from rmtservice.wire import service
from rmtservice.wire.schemas import MeasureModel

__all__ = ["SupportCache"]

Key = tuple[bytes, float]


def _read_only(value: Any, seen: set[int]) -> None:
    """Mark every numpy array reachable from a core result read-only."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, tuple | list):
        for item in value:
            _read_only(item, seen)
    elif type(value).__module__.startswith("rmtservice.") and hasattr(value, "__dict__"):
        # dataclass fields and cached properties (an Atoms' treecode) alike
        for item in vars(value).values():
            _read_only(item, seen)


class SupportCache:
    """``cache(model, sigma2)`` is ``service.prepare(model, sigma2)``, remembered."""

    def __init__(self, size: int, max_atoms: int) -> None:
        self.size = size
        self.max_atoms = max_atoms
        self.hits = 0
        self.misses = 0
        self.atoms = 0
        self._entries: OrderedDict[Key, tuple[service.Prepared, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, model: MeasureModel, sigma2: float) -> service.Prepared:
        if self.size <= 0:
            return service.prepare(model, sigma2)
        digest = hashlib.blake2b(model.model_dump_json().encode(), digest_size=16).digest()
        key = (digest, float(sigma2))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[0]
            self.misses += 1
        prepared = service.prepare(model, sigma2)
        atoms = prepared[0].size
        if atoms <= self.max_atoms:
            _read_only(prepared, set())
            self._store(key, prepared, atoms)
        return prepared

    def _store(self, key: Key, prepared: service.Prepared, atoms: int) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.atoms -= old[1]
            self._entries[key] = (prepared, atoms)
            self.atoms += atoms
            while len(self._entries) > self.size or self.atoms > self.max_atoms:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.atoms -= dropped
