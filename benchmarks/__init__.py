"""Speed of scratchconv against tf.keras and PyTorch: run ``python -m benchmarks`` (see README.md)."""
