"""The runs wing: what happens to a run folder (names, modes, records, the launch sequence, liveness,
locks, permissions, the trash). Issue "The house" moves the flat modules here; new code lands here now."""
