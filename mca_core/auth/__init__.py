"""Tokens for Partner Center: providers (static, sandbox, MSAL), claims, the one redactor."""
