//! Tables that the harness (Envoy's side) and the policy engine (Vigil's side) each keep
//! must agree.

#[test]
fn response_flag_tables_agree() {
    let policies = vigil_policies::envoy::RESPONSE_FLAGS;
    assert_eq!(policies.len(), vigil_harness::traffic::RESPONSE_FLAGS.len());
    for (name, bit) in policies {
        assert_eq!(
            vigil_harness::traffic::response_flag_bit(name),
            Some(*bit),
            "{name}"
        );
    }
}
