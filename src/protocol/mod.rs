//! The Kafka wire protocol: a pure codec (bytes in, values out), no I/O, no clocks, no locks.
