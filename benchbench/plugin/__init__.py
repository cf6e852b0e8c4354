"""Discovery: the hook specifications, the plugin manager and the registry of specs."""
