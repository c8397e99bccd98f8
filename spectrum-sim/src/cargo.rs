//! `--cargo <package>`: build a package of the current workspace and find
//! its executable.
//!
//! Runs `$CARGO build -p <package> --message-format=json-render-diagnostics`
//! (`cargo` if `CARGO` is unset) in the current directory, so the current
//! workspace, `CARGO_TARGET_DIR` and any other cargo configuration apply as
//! they would on the command line. Compiler output is rendered on stderr as
//! usual; the path of the binary comes from the `compiler-artifact` message
//! of the package's `bin` target, never from a guessed target directory.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// One binary cargo reported building.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binary {
    package: String,
    target: String,
    executable: PathBuf,
}

/// Builds `package` (with `--release` if asked) and returns the path of its
/// binary.
pub(crate) fn build(package: &str, release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args([
            "build",
            "-p",
            package,
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if release {
        command.arg("--release");
    }
    let shown = format!(
        "{} build -p {package}{}",
        cargo.to_string_lossy(),
        if release { " --release" } else { "" }
    );
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let mut binaries = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading the output of `{shown}`: {e}"))?;
            binaries.extend(artifact(&line));
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{shown}`: {e}"))?;
    if !status.success() {
        return Err(format!("`{shown}` failed ({status})"));
    }
    choose(package, &binaries)
}

/// The binary a line of cargo's JSON output announces, if it is one.
fn artifact(line: &str) -> Option<Binary> {
    let message: Value = serde_json::from_str(line).ok()?;
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = message.get("target")?;
    let is_bin = target
        .get("kind")?
        .as_array()?
        .iter()
        .any(|k| k.as_str() == Some("bin"));
    if !is_bin {
        return None;
    }
    Some(Binary {
        package: package_name(message.get("package_id")?.as_str()?)?.to_owned(),
        target: target.get("name")?.as_str()?.to_owned(),
        executable: PathBuf::from(message.get("executable")?.as_str()?),
    })
}

/// The package name in a cargo package id, in either format:
/// `path+file:///w/examples/echo#0.1.0` (the name is the last path segment),
/// `path+file:///w/x#echo@0.1.0`, or the older `echo 0.1.0 (path+file:///w/x)`.
fn package_name(id: &str) -> Option<&str> {
    if id.contains(" (") {
        return id.split(' ').next();
    }
    let (url, fragment) = id.rsplit_once('#')?;
    if let Some((name, _version)) = fragment.split_once('@') {
        return Some(name);
    }
    let path = url.split('?').next()?;
    path.trim_end_matches('/').rsplit('/').next()
}

/// The package's binary: the only one, or the one named like the package.
fn choose(package: &str, binaries: &[Binary]) -> Result<PathBuf, String> {
    let own: Vec<&Binary> = binaries.iter().filter(|b| b.package == package).collect();
    match own.as_slice() {
        [] => Err(format!(
            "package `{package}` has no binary target to run (cargo built {})",
            if binaries.is_empty() {
                "no binary".to_owned()
            } else {
                binaries
                    .iter()
                    .map(|b| b.target.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        [one] => Ok(one.executable.clone()),
        several => match several.iter().find(|b| b.target == package) {
            Some(b) => Ok(b.executable.clone()),
            None => Err(format!(
                "package `{package}` has several binaries ({}); run one by its path instead",
                several
                    .iter()
                    .map(|b| b.target.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_in_every_format() {
        assert_eq!(
            package_name("path+file:///work/main/examples/echo#0.1.0"),
            Some("echo")
        );
        assert_eq!(
            package_name("path+file:///work/main/examples/x#echo@0.1.0"),
            Some("echo")
        );
        assert_eq!(
            package_name("registry+https://github.com/rust-lang/crates.io-index#serde@1.0.228"),
            Some("serde")
        );
        assert_eq!(
            package_name("echo 0.1.0 (path+file:///work/main/examples/echo)"),
            Some("echo")
        );
        assert_eq!(
            package_name("git+https://example.invalid/r?branch=main#tool@0.2.0"),
            Some("tool")
        );
    }

    #[test]
    fn reads_the_bin_artifact() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/examples/echo#0.1.0","target":{"kind":["bin"],"name":"echo"},"executable":"/t/debug/echo","fresh":true}"#;
        assert_eq!(
            artifact(line),
            Some(Binary {
                package: "echo".into(),
                target: "echo".into(),
                executable: "/t/debug/echo".into()
            })
        );
        let lib = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/spectrum-proto#0.1.0","target":{"kind":["lib"],"name":"spectrum_proto"},"executable":null}"#;
        assert_eq!(artifact(lib), None);
        assert_eq!(artifact("not json"), None);
        assert_eq!(
            artifact(r#"{"reason":"build-finished","success":true}"#),
            None
        );
    }

    #[test]
    fn chooses_the_package_binary() {
        let bin = |package: &str, target: &str| Binary {
            package: package.into(),
            target: target.into(),
            executable: format!("/t/{target}").into(),
        };
        assert_eq!(choose("echo", &[bin("echo", "echo")]), Ok("/t/echo".into()));
        assert_eq!(
            choose("echo", &[bin("echo", "other"), bin("echo", "echo")]),
            Ok("/t/echo".into())
        );
        assert!(
            choose("echo", &[bin("echo", "a"), bin("echo", "b")])
                .is_err_and(|e| e.contains("several binaries (a, b)"))
        );
        assert!(choose("lib", &[]).is_err_and(|e| e.contains("no binary target")));
    }
}
