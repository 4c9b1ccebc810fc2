//! EIP-225's voting test cases (`tests/clique/eip225.json`) and the examples of
//! `shared/vectors/clique_scenarios_format.json`, replayed in both suites.

use metamesh_consensus::replay::{ScenarioFile, replay};
use metamesh_crypto::Suite;

fn scenarios(text: &str) -> ScenarioFile {
    serde_json::from_str(text).expect("a scenario file")
}

fn check_all(file: &ScenarioFile, suite: Suite) {
    for scenario in &file.scenarios {
        let outcome = replay(scenario, suite);
        assert!(
            outcome.matches(&scenario.expect),
            "{suite} scenario {} ({}): got {outcome:?}, expected {:?}",
            scenario.id,
            scenario.name,
            scenario.expect
        );
    }
}

#[test]
fn eip225_cases_pass_in_the_sm_suite() {
    let file = scenarios(include_str!("../../../tests/clique/eip225.json"));
    assert_eq!(file.scenarios.len(), 24);
    check_all(&file, Suite::Sm);
}

#[test]
fn eip225_cases_pass_in_the_eth_suite() {
    check_all(
        &scenarios(include_str!("../../../tests/clique/eip225.json")),
        Suite::Eth,
    );
}

#[test]
fn shared_format_examples_pass() {
    let file = scenarios(&metamesh_testkit::vector_text(
        "clique_scenarios_format.json",
    ));
    for suite in Suite::ALL {
        check_all(&file, suite);
    }
}
