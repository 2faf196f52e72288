"""The build steps: one module per step, each one function from input artifacts to one output."""
