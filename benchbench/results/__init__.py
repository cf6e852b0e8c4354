"""Records → tables: the results store, leaderboards and comparisons."""
