"""`make bench`: the benchmarks of issue 6 (and the extraction/parse figures of issue 3); see run.py."""
