"""Human- and tool-readable reports of results (stats.txt, summaries, the study report)."""
