//! Interop with the system OpenSSL 3: keys made by `openssl genpkey -algorithm SM2` import,
//! signatures cross in both directions under explicit distinguishing IDs, SM2 ciphertexts
//! cross in both directions, and exported PEM keys read back in OpenSSL.
//!
//! OpenSSL's default SM2 ID is empty, so every OpenSSL call here passes `distid:` explicitly.

mod common;

use common::Scratch;

const IDS: [&str; 3] = ["1234567812345678", "ALICE123@YAHOO.COM", "metamesh-node-7"];

fn openssl_sm2_key(s: &Scratch) {
    let v = s.openssl(&["version"]).ok();
    assert!(
        v.stdout.starts_with("OpenSSL 3."),
        "need OpenSSL 3.x, found {}",
        v.stdout
    );
    s.openssl(&["genpkey", "-algorithm", "SM2", "-out", "key.pem"])
        .ok();
    s.openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"])
        .ok();
}

/// `openssl pkeyutl -verify` of msg.bin against pub.pem, with `distid:ID` when given.
fn openssl_verify(s: &Scratch, id: Option<&str>, sig: &str) -> common::Run {
    let distid = id.map(|id| format!("distid:{id}"));
    let mut args = vec![
        "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
    ];
    args.extend(["-digest", "sm3", "-in", "msg.bin", "-sigfile", sig]);
    if let Some(d) = &distid {
        args.extend(["-pkeyopt", d.as_str()]);
    }
    s.openssl(&args)
}

/// Imports key.pem and returns the account address.
fn import(s: &Scratch) -> String {
    let run = s
        .mm(&[
            "--json",
            "account",
            "import",
            "key.pem",
            "--light-kdf",
            "--password-file",
            "pw.txt",
        ])
        .ok();
    let address = run.json()["address"].as_str().unwrap().to_owned();
    let from_pub = s
        .mm(&["--json", "account", "inspect", "pub.pem"])
        .ok()
        .json();
    assert_eq!(from_pub["address"], address.as_str());
    assert_eq!(from_pub["suite"], "sm");
    address
}

#[test]
fn openssl_signatures_verify_in_metamesh_under_their_id() {
    let s = Scratch::new();
    openssl_sm2_key(&s);
    let address = import(&s);
    s.write("msg.bin", b"boron nitride lattice constants, run 42\n");
    for (i, id) in IDS.iter().enumerate() {
        let sig = format!("ossl{i}.der");
        s.openssl(&[
            "pkeyutl",
            "-sign",
            "-inkey",
            "key.pem",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            &format!("distid:{id}"),
            "-in",
            "msg.bin",
            "-out",
            &sig,
        ])
        .ok();
        for key in ["pub.pem", "key.pem", address.as_str()] {
            let run = s.mm(&[
                "key",
                "verify",
                "--key",
                key,
                "--in",
                "msg.bin",
                "--sig",
                &sig,
                "--id",
                id,
                "--password-file",
                "pw.txt",
            ]);
            assert_eq!(
                (run.code, run.stdout.trim()),
                (0, "valid"),
                "id {id}, key {key}: {}",
                run.stderr
            );
        }
        let other = IDS[(i + 1) % IDS.len()];
        let run = s.mm(&[
            "key", "verify", "--key", "pub.pem", "--in", "msg.bin", "--sig", &sig, "--id", other,
        ]);
        assert_eq!(
            (run.code, run.stdout.trim()),
            (1, "invalid"),
            "id {id} accepted under {other}"
        );
    }
}

#[test]
fn metamesh_signatures_verify_in_openssl_under_their_id() {
    let s = Scratch::new();
    openssl_sm2_key(&s);
    let address = import(&s);
    s.write("msg.bin", b"dataset bafy... registered by lab 3");
    for (i, id) in IDS.iter().enumerate() {
        let sig = format!("mm{i}.der");
        let key = if i % 2 == 0 {
            "key.pem"
        } else {
            address.as_str()
        };
        s.mm(&[
            "key",
            "sign",
            "--key",
            key,
            "--in",
            "msg.bin",
            "--id",
            id,
            "--out",
            &sig,
            "--password-file",
            "pw.txt",
        ])
        .ok();
        let run = openssl_verify(&s, Some(id), &sig);
        assert_eq!(
            run.code, 0,
            "OpenSSL rejected our signature under {id}: {}{}",
            run.stdout, run.stderr
        );
        assert!(run.stdout.contains("Signature Verified Successfully"));
        let run = s.openssl(&[
            "dgst",
            "-sm3",
            "-verify",
            "pub.pem",
            "-sigopt",
            &format!("distid:{id}"),
            "-signature",
            &sig,
            "msg.bin",
        ]);
        assert_eq!(run.code, 0, "openssl dgst: {}{}", run.stdout, run.stderr);
        // Under another ID, and with OpenSSL's empty default ID, it must fail.
        let other = IDS[(i + 1) % IDS.len()];
        let run = openssl_verify(&s, Some(other), &sig);
        assert_ne!(
            run.code, 0,
            "OpenSSL accepted a signature under the wrong ID"
        );
        let run = openssl_verify(&s, None, &sig);
        assert_ne!(
            run.code, 0,
            "OpenSSL accepted a signature under its empty default ID"
        );
    }
}

#[test]
fn sm2_ciphertexts_cross_both_ways() {
    let s = Scratch::new();
    openssl_sm2_key(&s);
    let plain = b"data key 0123456789abcdef0123456789abcdef";
    s.write("plain.bin", plain);

    s.mm(&[
        "key",
        "encrypt",
        "--key",
        "pub.pem",
        "--in",
        "plain.bin",
        "--out",
        "mm.ct",
    ])
    .ok();
    let run = s
        .openssl(&[
            "pkeyutl", "-decrypt", "-inkey", "key.pem", "-in", "mm.ct", "-out", "ossl.pt",
        ])
        .ok();
    assert_eq!(run.code, 0);
    assert_eq!(std::fs::read(s.path("ossl.pt")).unwrap(), plain);

    s.openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "pub.pem",
        "-in",
        "plain.bin",
        "-out",
        "ossl.ct",
    ])
    .ok();
    s.mm(&[
        "key", "decrypt", "--key", "key.pem", "--in", "ossl.ct", "--out", "mm.pt",
    ])
    .ok();
    assert_eq!(std::fs::read(s.path("mm.pt")).unwrap(), plain);

    // The raw GM/T 0003.4 layout round-trips, and is not mistaken for the ASN.1 one.
    s.mm(&[
        "key",
        "encrypt",
        "--key",
        "pub.pem",
        "--in",
        "plain.bin",
        "--out",
        "raw.ct",
        "--layout",
        "c1c3c2",
    ])
    .ok();
    s.mm(&[
        "key", "decrypt", "--key", "key.pem", "--in", "raw.ct", "--out", "raw.pt", "--layout",
        "c1c3c2",
    ])
    .ok();
    assert_eq!(std::fs::read(s.path("raw.pt")).unwrap(), plain);
    let run = s.mm(&[
        "key", "decrypt", "--key", "key.pem", "--in", "raw.ct", "--out", "x", "--layout", "asn1",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("error: decryption failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn exported_keys_read_back_in_openssl() {
    let s = Scratch::new();
    openssl_sm2_key(&s);
    let address = import(&s);
    let original = s
        .openssl(&["pkey", "-in", "key.pem", "-noout", "-text"])
        .ok()
        .stdout;
    for format in ["pkcs8", "sec1"] {
        let out = format!("export-{format}.pem");
        s.mm(&[
            "account",
            "export",
            &address,
            "--format",
            format,
            "--out",
            &out,
            "--password-file",
            "pw.txt",
        ])
        .ok();
        let text = s
            .openssl(&["pkey", "-in", &out, "-noout", "-text"])
            .ok()
            .stdout;
        assert_eq!(text, original, "{format} export differs in OpenSSL");
    }
    s.mm(&[
        "account",
        "export",
        &address,
        "--public",
        "--out",
        "export-pub.pem",
        "--password-file",
        "pw.txt",
    ])
    .ok();
    let theirs = s
        .openssl(&["pkey", "-pubin", "-in", "pub.pem", "-noout", "-text"])
        .ok()
        .stdout;
    let ours = s
        .openssl(&["pkey", "-pubin", "-in", "export-pub.pem", "-noout", "-text"])
        .ok()
        .stdout;
    assert_eq!(ours, theirs);

    // OpenSSL's own SEC1 form (`SM2 PRIVATE KEY`) imports as the same account.
    s.openssl(&["ec", "-in", "key.pem", "-out", "sec1.pem"])
        .ok();
    let view = s
        .mm(&["--json", "account", "inspect", "sec1.pem"])
        .ok()
        .json();
    assert_eq!(view["address"], address.as_str());
}

#[test]
fn openssl_secp256k1_key_imports_as_eth() {
    let s = Scratch::new();
    s.openssl(&[
        "ecparam",
        "-name",
        "secp256k1",
        "-genkey",
        "-noout",
        "-out",
        "k1.pem",
    ])
    .ok();
    s.openssl(&["pkey", "-in", "k1.pem", "-pubout", "-out", "k1pub.pem"])
        .ok();
    let view = s
        .mm(&["--json", "account", "inspect", "k1.pem"])
        .ok()
        .json();
    assert_eq!(view["suite"], "eth");
    let imported = s
        .mm(&[
            "--json",
            "account",
            "import",
            "k1.pem",
            "--light-kdf",
            "--password-file",
            "pw.txt",
        ])
        .ok()
        .json();
    assert_eq!(imported["address"], view["address"]);
    s.write("m", b"m");
    s.mm(&[
        "key", "sign", "--key", "k1.pem", "--in", "m", "--format", "raw", "--out", "m.sig",
    ])
    .ok();
    let run = s
        .mm(&[
            "key",
            "verify",
            "--key",
            "k1pub.pem",
            "--in",
            "m",
            "--sig",
            "m.sig",
        ])
        .ok();
    assert_eq!(run.stdout.trim(), "valid");
}
