"""Built-in metric groups, one package per group: the plugin spec in __init__, the maths beside it."""
