"""The Order service's pure domain: order rules, the order's state machine, hold arithmetic."""
