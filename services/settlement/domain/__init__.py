"""The Settlement service's pure domain: charges of a trade, the settlement state machine,
batching decisions (and the Merkle tree of anchored batches, `merkle.py`)."""
