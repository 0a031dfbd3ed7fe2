"""Music: chord symbols, progressions, tunes and the values grammar."""
