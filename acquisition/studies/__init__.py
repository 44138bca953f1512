"""Simulation studies: parameter maps over physics and bench settings (``avalab study``) and
model fits to measured I-P curves (``avalab fit``)."""
