"""The live runner (``hftlib.live``): control API, order manager, persistence, failover."""
