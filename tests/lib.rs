//! Support for Vigil's integration tests: the vendored ECS schema, Envoy process control,
//! and helpers shared by the test modules in `all/`.

pub mod ecs;
pub mod envoy;
pub mod event;
pub mod golden;
pub mod http;
