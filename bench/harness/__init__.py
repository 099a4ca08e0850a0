"""The benchmark harness behind bench/run.py: driver, processes, scenarios, report."""
