"""EventTix benchmarks: python -m bench (make bench). See BENCHMARKS.md."""
