"""Exchange simulation (``hftlib.sim``): replay venue with queue models, the price-time
matching engine and local venue servers. Imports only the ``hftlib`` core."""
