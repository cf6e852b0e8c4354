"""Built-in model families, one package per family: the plugin spec in __init__, the maths beside it."""
