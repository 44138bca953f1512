"""One module per published figure group of physics.md (see ``acquisition.reproduce``)."""
