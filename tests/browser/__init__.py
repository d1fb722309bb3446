"""A package, not a plain folder: pytest ends the package-scoped fixtures of its conftest when
the last test here is done (in a plain folder they live until the session ends)."""
