"""What a plan can do on the rig, one capability per module, each reached through the PlanContext
(``ctx.beam``, ``ctx.detection``, ...). Every call is a checkpoint (abort, pause, interlocks).

==================  =========================================================================
``waiting``         checkpoints, operator pause, sleeping with interlock probes, interlock events
``beam``            the pump beam: on/off, density at the sample, pick-off readings, limits
``power``           the power calibration in use, the attenuator it drives, readback checks
``detection``       APD counts and traces, with the count-rate interlock
``tcspc``           TCSPC histograms on the chopper edge
``cryostat``        setpoints, stability waits, heater range, the temperature interlock
``control``         the control laser path: its measured reach, pulses with the APD blocked
``chopper``         blade choice, spin-up, stop
``stages``          rotation-stage moves polled through checkpoints
==================  =========================================================================
"""
