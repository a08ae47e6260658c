//! Support for Vigil's integration tests: the vendored ECS schema, Envoy process control,
//! and helpers shared by the test modules in `all/`.

pub mod access_log;
pub mod conformance;
pub mod ecs;
pub mod envoy;
pub mod event;
pub mod fluentd;
pub mod golden;
pub mod http;
pub mod msgpack;
pub mod ocsf;
pub mod otlp;
pub mod otlp_pb;
pub mod receiver;
pub mod source;
pub mod tls;
