"""The arrival (open) load model: the plan, the exact split across workers, the schedulers and the pool."""
