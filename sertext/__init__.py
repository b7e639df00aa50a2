"""sertext: speech + text emotion recognition sweeps."""
