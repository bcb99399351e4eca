"""One module per screen; each owns its data (reactives bound into its widgets) and its workers."""
