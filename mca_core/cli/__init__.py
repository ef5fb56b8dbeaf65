"""`python -m mca_core`: one module per command family."""
