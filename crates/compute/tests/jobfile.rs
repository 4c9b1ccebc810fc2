//! Job files' `verification`: the quorum, requester and zk forms, claims pinned by name, and
//! keys that belong to neither form refused by name.

use metamesh_compute::inventory::JobFile;
use metamesh_primitives::compute::{PinnedClaim, VERIFY_ZK};

const CIRCUIT: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";

fn job(verification: &str) -> Result<JobFile, String> {
    JobFile::parse(&format!(
        "name = \"j\"\nmax_price = \"1 MMT\"\n[[tasks]]\nname = \"t\"\nprogram = \"a.wasm\"\n\
         verification = {verification}\n"
    ))
    .map_err(|e| e.to_string())
}

fn names() -> Vec<String> {
    vec!["commitment".into(), "sum".into()]
}

#[test]
fn a_zk_task_pins_claims_by_the_circuits_names() {
    let j = job(&format!(
        "{{ zk = \"{CIRCUIT}\", claims = {{ sum = \"128\", commitment = \"7\" }} }}"
    ))
    .unwrap();
    let t = &j.tasks[0];
    assert_eq!(JobFile::verification(t).unwrap(), (VERIFY_ZK, 1));
    assert_eq!(JobFile::circuit(t).unwrap(), [1; 32]);
    let mut seven = [0; 32];
    seven[31] = 7;
    let mut sum = [0; 32];
    sum[31] = 128;
    assert_eq!(
        JobFile::pinned(t, &names()).unwrap(),
        [
            PinnedClaim {
                index: 0,
                value: seven
            },
            PinnedClaim {
                index: 1,
                value: sum
            }
        ]
    );
    let unknown = job(&format!(
        "{{ zk = \"{CIRCUIT}\", claims = {{ mean = \"1\" }} }}"
    ))
    .unwrap();
    let e = JobFile::pinned(&unknown.tasks[0], &names()).unwrap_err().0;
    assert!(
        e.contains("no claim `mean`") && e.contains("commitment, sum"),
        "{e}"
    );
    let bad = job(&format!(
        "{{ zk = \"{CIRCUIT}\", claims = {{ sum = \"0x80\" }} }}"
    ))
    .unwrap();
    assert!(JobFile::pinned(&bad.tasks[0], &names()).is_err());
    // Without pins, or for other tasks, nothing is pinned.
    let plain = job(&format!("{{ zk = \"{CIRCUIT}\" }}")).unwrap();
    assert!(
        JobFile::pinned(&plain.tasks[0], &names())
            .unwrap()
            .is_empty()
    );
    let quorum = job("{ replicas = 3 }").unwrap();
    assert!(
        JobFile::pinned(&quorum.tasks[0], &names())
            .unwrap()
            .is_empty()
    );
    assert_eq!(JobFile::verification(&quorum.tasks[0]).unwrap(), (0, 3));
}

#[test]
fn keys_of_the_other_form_are_refused_by_name() {
    let e = job(&format!("{{ zk = \"{CIRCUIT}\", replicas = 2 }}")).unwrap_err();
    assert!(e.contains("`replicas` does not belong here"), "{e}");
    let e = job(&format!(
        "{{ zk = \"{CIRCUIT}\", comparator = {{ json = \"r.json\" }} }}"
    ))
    .unwrap_err();
    assert!(e.contains("`comparator`"), "{e}");
    let e = job("{ replicas = 2, claims = { sum = \"1\" } }").unwrap_err();
    assert!(e.contains("`claims`"), "{e}");
    let e = job("{ replica = 2 }").unwrap_err();
    assert!(e.contains("`replica`"), "{e}");
    let e = job("{ replicas = \"two\" }").unwrap_err();
    assert!(e.contains("replicas"), "{e}");
    let e = job("\"quorum\"").map(|j| JobFile::verification(&j.tasks[0]).map_err(|e| e.0));
    assert!(matches!(e, Ok(Err(m)) if m.contains("requester")));
}
