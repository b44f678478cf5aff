"""Helpers the test suites share: a real daemon process, the kill driver, data factories.

Importable as ``tests.support`` from the project root (pytest puts the root on the path), so
that scripts such as the soak run the same code as the tests.
"""
