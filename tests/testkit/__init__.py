"""Helpers every test suite shares, importable from any test or conftest as `testkit`
(pytest puts tests/ on the path: `pythonpath` in pyproject.toml). Fixtures stay in
tests/conftest.py; this holds the plain functions several conftests need."""
