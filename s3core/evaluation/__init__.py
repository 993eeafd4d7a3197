"""The shared evaluator and the paper's answer metrics."""
