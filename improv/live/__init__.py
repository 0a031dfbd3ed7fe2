"""The live path: clock, ports, scheduler, listener, engine. Never imports TensorFlow."""
