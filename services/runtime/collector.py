"""The cyclic garbage collector, tuned for services that keep large live heaps.

CPython's default (a young collection every 700 allocations, a full one whenever the old
generation grew by a quarter) makes a service that holds a big heap, such as Matching's books
of resting orders, walk that whole heap again and again: measured, the collector took more time
than the matching in bench/matching.py's journaled run. Almost nothing these services allocate
forms a reference cycle (requests, records and book entries are freed by reference counting), so
young collections can be much rarer, and what exists once start-up is done (modules, the
rebuilt books) is moved out of the collector's sight for good. The same tuning as Instagram's
and many other long-running CPython services: a larger first threshold plus gc.freeze().
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)
MIDDLE_THRESHOLD = 20  # young collections per middle one (default 10)
OLD_THRESHOLD = 100  # middle collections before a full one is considered (default 10)


def tune_collector() -> None:
    """Call once start-up is done: freezes what exists and makes collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
