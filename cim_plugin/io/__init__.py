"""Writing results safely: atomic files, output folders that are never left, and the
checks on `-o`/`--json` paths made before any work. A low room: every other part of
the package (export, backends, the study's cache, reports, commands) writes through it.
"""
