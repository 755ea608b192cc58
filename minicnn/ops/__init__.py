"""Pure forward/backward function pairs: ``*_forward(...) -> (y, cache)``, ``*_backward(dy, cache)``."""
