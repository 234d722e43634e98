//! TLS to PostgreSQL, as managed databases require it. `.ci/run` runs the whole suite on a
//! cluster that accepts TLS only, with a certificate from a private CA, through
//! `sslmode=verify-full&sslrootcert=CA`; these check the refusals around it. They need that
//! cluster (`CLIENTELE_TEST_POSTGRES` with `sslrootcert=`), and say so and pass without it.

use std::process::{Command, Stdio};

use crate::support::{postgres, TempDir};

/// The suite's PostgreSQL URL when it is one over verified TLS.
fn tls_url() -> Option<String> {
    match postgres() {
        Some(url) if url.contains("sslrootcert=") => Some(url),
        _ => {
            eprintln!("not run: needs CLIENTELE_TEST_POSTGRES over TLS with sslrootcert=");
            None
        }
    }
}

/// `url` with the query parameter `key` set to `value`.
fn with_parameter(url: &str, key: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a PostgreSQL URL");
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(&kept)
        .append_pair(key, value);
    parsed.to_string()
}

/// Starts `serve` on `db` and returns its exit code and stderr; it must not get ready.
fn refused_start(db: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_clientele"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db-timeout", "3s"])
        .args(["--db", db, "--mail"])
        .arg(format!("mbox:{}", dir.join("m.mbox").display()))
        .env_remove("CLIENTELE_DB")
        .stdin(Stdio::null())
        .output()
        .expect("running clientele");
    assert!(output.stdout.is_empty(), "no readiness line");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_certificate_from_another_ca_stops_startup_naming_the_problem_and_no_password() {
    let Some(url) = tls_url() else { return };
    let dir = TempDir::new();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=Some Other CA"])
        .args(["-keyout", "other.key", "-out", "other.pem"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running openssl");
    assert!(status.success());
    let other = dir.join("other.pem").display().to_string();
    let mut wrong = url::Url::parse(&with_parameter(&url, "sslrootcert", &other)).unwrap();
    wrong.set_password(Some("never-printed-pw")).unwrap();
    let (code, stderr) = refused_start(wrong.as_str());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("TLS to the database failed"), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(
        stderr.contains(&other),
        "names the CA it was given: {stderr}"
    );
    assert!(!stderr.contains("never-printed-pw"), "{stderr}");
}

#[test]
fn a_tls_only_cluster_refuses_a_plain_connection_and_the_message_says_so() {
    let Some(url) = tls_url() else { return };
    let (code, stderr) = refused_start(&with_parameter(&url, "sslmode", "disable"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no encryption"), "{stderr}");
}

#[test]
fn an_unknown_sslmode_is_refused_with_the_modes_libpq_knows() {
    let Some(url) = tls_url() else { return };
    let (code, stderr) = refused_start(&with_parameter(&url, "sslmode", "sometimes"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("verify-ca or verify-full"), "{stderr}");
}
