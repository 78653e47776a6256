"""InfluxDB access that works on 1.x, 2.x and 3.x: v1 ``/write`` line protocol, InfluxQL ``/query``."""
