"""The outermost layer: settings, the FastAPI apps, the CLI and the wiring that composes the other
packages. Nothing imports ``api``.
"""
