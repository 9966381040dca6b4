"""What the store learns about each consenting customer: pure functions, used by the runtime and the benchmark."""
