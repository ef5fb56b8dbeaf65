"""The domain: models, errors, validation and access rules. Imports nothing above it."""
