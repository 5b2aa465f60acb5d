"""Measurements through the probe, each judged into a Verdict: latency per path and
instance, large-file throughput (H5), and concurrent appends from two instances (H4)."""
