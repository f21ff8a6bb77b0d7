"""The venue interface shared by connectors (``venues/``) and simulators (``sim/``)."""
