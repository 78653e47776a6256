"""Every InfluxQL query and raw-value read of the verdict."""
