"""Browser journeys (Playwright + Debian Chromium); fixtures and helpers in conftest.py."""
