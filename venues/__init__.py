"""Venue connectors (``hftlib.venues``), one sub-package per venue, implementing the venue
interface defined in the ``hftlib`` core."""
