//! The workspace's one integration-test binary: each module covers one crate
//! or one behaviour, all against local mock servers or the simulator.

mod api;
