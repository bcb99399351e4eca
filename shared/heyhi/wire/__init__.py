"""The wire wing: what crosses the daemon's socket (protocol limits, framing, clients).
Issue "The house" moves the flat modules here; new code lands here now."""
