"""The config wing: reading config files, the override grammar, composition, key indexes.
Issue "The house" moves the flat modules here; new code lands here now."""
