"""Thorlabs APT/Kinesis rotation stages: sans-IO codec (``protocol``), unit scaling
(``scaling``), pyserial transport (``transport``) and the RotationStage drivers (``stage``)."""
