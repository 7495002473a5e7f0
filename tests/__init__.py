"""cim_plugin's test suite (a package, so that `tests.conftest` and the shared helpers
resolve to this folder even where another installed distribution ships a top-level
`tests` package, as timeloopfe does)."""
