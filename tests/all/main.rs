//! all

mod e2e_bad_policy;
mod e2e_baseline;
mod e2e_brute_force;
mod e2e_hostile;
mod e2e_parity;
mod golden_scenarios;
