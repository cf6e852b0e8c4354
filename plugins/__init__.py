"""Built-in benchbench plugins, each written exactly as a third-party plugin would be."""
