"""Fast terminal chart rendering (braille line charts, bars) into Textual strips."""
