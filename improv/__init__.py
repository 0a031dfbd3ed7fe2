"""improv: a real-time MIDI jazz improviser driven by a stateful LSTM cell."""

__version__ = "0.1.0"
