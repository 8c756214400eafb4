//! The sandbox, attacked: a program that tries to write outside its
//! scratch folder, reach a listener this test opens on 127.0.0.1 in the
//! host's network namespace, read a file the grader keeps to itself, and
//! leave processes behind. Each attempt must fail, and afterwards no
//! process of the sandbox uid may exist. Run under every isolation this
//! machine offers (bubblewrap, and always the setuid fallback); where it
//! offers none, the test says so.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use grader::run::{fresh_scratch, run_in, Ending, Limits};
use grader::sandbox::{pids_of, Jail, Kind, Rlimits, Sandbox, Slot, PATH};

fn scratch_root() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-test");
    fs::create_dir_all(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Run the attacks under `sb`. `escapes`: the deliberately wrong variant,
/// no isolation, where every attack must succeed (so the probes are real);
/// it leaves no process behind on purpose.
fn attack(sb: &Sandbox, escapes: bool) {
    // A slot of our own: no other grader uses its uids meanwhile.
    let slot = Slot::acquire().unwrap();
    let uid = slot.run_uid();
    let root = scratch_root().join(format!("{:?}", sb.kind));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    // The grader's own: a folder beside the scratch, and a secret in it.
    let graders = root.join("grader-owned");
    fs::create_dir_all(&graders).unwrap();
    fs::set_permissions(&graders, fs::Permissions::from_mode(0o755)).unwrap();
    let secret = graders.join("solution.rs");
    fs::write(&secret, "the answer").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let tmp_escape = PathBuf::from(format!(
        "/tmp/sandbox-escape-{}-{:?}",
        std::process::id(),
        sb.kind
    ));
    let _ = fs::remove_file(&tmp_escape);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();

    let scratch = fresh_scratch(&root.join("run"), uid).unwrap();
    let script = format!(
        r#"
        echo wrote > {out}/escaped && echo WRITE-OUTSIDE
        echo wrote > {tmp} && echo WROTE-TMP
        cat {secret} && echo READ-SECRET
        cat {solutions} >/dev/null && echo READ-SOLUTIONS
        (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo CONNECTED
        echo ok > inside && echo WROTE-SCRATCH
        if [ -z "{escapes}" ]; then
            setsid sleep 300 </dev/null >/dev/null 2>&1 &
            (sleep 301 &)
            setsid sleep 302 &
        fi
        echo done
        "#,
        escapes = if escapes { "yes" } else { "" },
        out = graders.display(),
        tmp = tmp_escape.display(),
        secret = secret.display(),
        solutions = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../lessons/solutions/exercise1.rs")
            .display(),
    );
    let jail = Jail {
        uid,
        mounts: vec![(Some(scratch.clone()), PathBuf::from("/sandbox/run"), true)],
        cwd: scratch.clone(),
        env: vec![("PATH".into(), PATH.into())],
        rlimits: Rlimits {
            processes: 64,
            file_size: 1 << 20,
        },
        report: false,
    };
    let limits = Limits {
        timeout: Duration::from_secs(20),
        ..Limits::default()
    };
    let o = run_in(sb, &jail, Path::new("/bin/bash"), &["-c", &script], limits).unwrap();
    sb.sweep_tmp(uid);
    let what = format!("{}: {o:?}", sb.describe(Some(uid)));
    assert_eq!(o.ending, Ending::Exited(0), "{what}");
    if escapes {
        for probe in [
            "WRITE-OUTSIDE",
            "WROTE-TMP",
            "READ-SECRET",
            "READ-SOLUTIONS",
            "CONNECTED",
        ] {
            assert!(
                o.stdout.contains(probe),
                "without a sandbox {probe} must succeed: {what}"
            );
        }
        let _ = listener.accept();
        let _ = fs::remove_file(&tmp_escape);
        let _ = fs::remove_dir_all(&root);
        return;
    }
    assert!(
        o.stdout.contains("WROTE-SCRATCH") && o.stdout.contains("done"),
        "{what}"
    );
    assert!(!o.stdout.contains("WRITE-OUTSIDE"), "{what}");
    assert!(!graders.join("escaped").exists(), "{what}");
    assert!(!o.stdout.contains("READ-SECRET"), "{what}");
    assert!(
        !tmp_escape.exists(),
        "a file in the host's /tmp survived: {what}"
    );
    if sb.kind == Kind::Bwrap {
        // No mount of the workspace at all.
        assert!(!o.stdout.contains("READ-SOLUTIONS"), "{what}");
    } else {
        eprintln!(
            "setuid sandbox: the solutions are protected by file rights only (the grader refuses to run when they are readable)"
        );
    }
    let mut conn = listener.accept();
    if sb.describe(Some(uid)).contains("network reachable") {
        eprintln!(
            "NOTE: this machine cannot take the network away in the setuid fallback: {}",
            sb.describe(Some(uid))
        );
    } else {
        assert!(!o.stdout.contains("CONNECTED"), "{what}");
        assert!(
            conn.is_err(),
            "the sandbox reached the host's listener: {what}"
        );
    }
    if let Ok((s, _)) = &mut conn {
        let _ = s.read(&mut [0; 1]);
    }
    let left = pids_of(uid);
    assert!(
        left.is_empty(),
        "processes of uid {uid} survived: {left:?}; {what}"
    );
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn no_attempt_escapes_and_nothing_survives() {
    let best = Sandbox::detect(None);
    eprintln!("{}", best.describe(None));
    if !best.isolated() {
        eprintln!(
            "NOTE: no isolation possible on this machine ({}): the sandbox is NOT tested here",
            best.note
        );
        return;
    }
    if best.kind == Kind::Bwrap {
        attack(&best, false);
    } else {
        eprintln!(
            "NOTE: bubblewrap does not work here ({}): testing the setuid fallback only",
            best.note
        );
    }
    attack(&Sandbox::detect(Some(Kind::Setuid)), false);
}

#[test]
fn without_a_sandbox_every_attack_succeeds() {
    // The deliberately wrong variant: the same probes with no isolation
    // must all get through, or the test above proves nothing.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("NOTE: not root: the secret is ours to read anyway; skipped");
        return;
    }
    attack(&Sandbox::none("the wrong variant"), true);
}
