"""Controllers (fixed-time; later max-pressure and priority) and the control loop."""
