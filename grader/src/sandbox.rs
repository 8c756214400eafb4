//! Isolation for submitted code: who runs it, what it sees, what survives.
//!
//! Every build and every run of a submission happens as a dedicated
//! unprivileged uid (two per worker: one builds, one runs, so a running
//! program cannot touch what the builder wrote), and every process of that
//! uid is killed when the run ends (`kill(-1)` from a process of that uid),
//! however the program forked, `setsid`ed or held its pipes.
//!
//! Three levels, best first:
//!
//! * [`Kind::Bwrap`]: bubblewrap (`bwrap`), started by root without a user
//!   namespace, builds a mount namespace that holds `/usr`, a few files of
//!   `/etc`, and only the folders the [`Jail`] names (read-only unless
//!   marked writable), plus private `/tmp`, `/proc` and `/dev`; new PID,
//!   network, IPC and UTS namespaces; an empty environment. Inside it,
//!   `setpriv` drops to the sandbox uid with no capabilities and
//!   `no_new_privs` before the program starts. The PID namespace dies with
//!   its first process, so nothing outlives the run.
//! * [`Kind::Setuid`]: where namespaces are refused (Gradescope's Docker
//!   images), the program itself is started as the sandbox uid, in a session
//!   of its own, with resource limits and, when the kernel allows it, a
//!   network namespace. It sees the machine's files with that uid's rights:
//!   the grader keeps what it owns unwritable (root's, `0755`/`0644`), and
//!   the instructor must keep the solutions unreadable (`run_autograder`
//!   does).
//! * [`Kind::None`]: the student's own `just check`: their code, their
//!   machine, their rights; only the process group is killed.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The first sandbox uid. A worker holds one [`Slot`] `k` of [`SLOTS`]
/// machine-wide and builds as `UID_BASE + 2k`, runs as `UID_BASE + 2k + 1`.
/// Nothing else on the machine may use these uids: every process of them is
/// killed after each run.
pub const UID_BASE: u32 = 61100;

/// How many workers may be sandboxed at once on one machine (all graders
/// together).
pub const SLOTS: usize = 64;

/// A pair of sandbox uids, held (`flock` on a file in a root-owned folder)
/// for as long as this value lives, so that two graders on one machine (two
/// instructors, two test runs) never share a uid, and one never kills the
/// other's processes.
#[derive(Debug)]
pub struct Slot {
    /// Its number.
    pub index: usize,
    _lock: fs::File,
}

fn slot_dir() -> PathBuf {
    std::env::temp_dir().join("grader-sandbox-slots")
}

fn lock_slot(index: usize, wait: bool) -> io::Result<Option<fs::File>> {
    use std::os::fd::AsRawFd;
    let dir = slot_dir();
    fs::create_dir_all(&dir)?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("slot-{index}")))?;
    let how = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), how) } != 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(e)
        };
    }
    Ok(Some(file))
}

impl Slot {
    /// The first free slot (waiting for one when all are taken).
    pub fn acquire() -> io::Result<Slot> {
        loop {
            for index in 0..SLOTS {
                if let Some(lock) = lock_slot(index, false)? {
                    return Ok(Slot { index, _lock: lock });
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The uid this slot builds as.
    pub fn build_uid(&self) -> u32 {
        UID_BASE + 2 * self.index as u32
    }

    /// The uid this slot runs programs as.
    pub fn run_uid(&self) -> u32 {
        UID_BASE + 2 * self.index as u32 + 1
    }
}

/// Processes of sandbox uids whose slot no grader holds: what a grader
/// left behind (there must be none).
pub fn orphans() -> Vec<(u32, Vec<i32>)> {
    let mut left = Vec::new();
    for index in 0..SLOTS {
        // Holding the lock while looking: no grader starts on it meanwhile.
        let Ok(Some(_lock)) = lock_slot(index, false) else {
            continue;
        };
        for uid in [UID_BASE + 2 * index as u32, UID_BASE + 2 * index as u32 + 1] {
            let pids = pids_of(uid);
            if !pids.is_empty() {
                left.push((uid, pids));
            }
        }
    }
    left
}

/// How submitted code is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// bubblewrap namespaces plus a dedicated uid.
    Bwrap,
    /// A dedicated uid only (no mount namespace).
    Setuid,
    /// Nothing: the grader's own rights.
    None,
}

/// The isolation this grader uses, found once by [`Sandbox::detect`].
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Which level.
    pub kind: Kind,
    bwrap: PathBuf,
    setpriv: PathBuf,
    /// `Setuid` only: whether a network namespace can be made.
    net_isolated: bool,
    /// Why a better level was not available (for the first line).
    pub note: String,
}

/// Resource limits for one sandboxed process tree (`setrlimit`).
#[derive(Debug, Clone, Copy)]
pub struct Rlimits {
    /// Processes and threads of the sandbox uid (`RLIMIT_NPROC`; macOS
    /// counts processes only).
    pub processes: u64,
    /// Largest file it may write (`RLIMIT_FSIZE`).
    pub file_size: u64,
}

/// What one sandboxed process sees: folders of the host mounted at paths
/// inside, its working directory, its environment, its uid.
#[derive(Debug, Clone)]
pub struct Jail {
    /// The uid it runs as.
    pub uid: u32,
    /// `(host, inside, writable)`; `host` `None` is an empty private tmpfs.
    pub mounts: Vec<(Option<PathBuf>, PathBuf, bool)>,
    /// Working directory, as a host path (translated like every path).
    pub cwd: PathBuf,
    /// The whole environment (nothing of the grader's is passed on).
    pub env: Vec<(String, String)>,
    /// Resource limits.
    pub rlimits: Rlimits,
    /// Hand the program a pipe for the runtime's exit report
    /// (`RUNTIME_EXIT_REPORT=3`, see `account.rs`).
    pub report: bool,
}

impl Jail {
    /// The path a process in this jail uses for the host path `host`:
    /// under bwrap, its place inside the mount that holds it; otherwise the
    /// host path itself.
    pub fn inside(&self, kind: Kind, host: &Path) -> PathBuf {
        if kind != Kind::Bwrap {
            return host.to_path_buf();
        }
        // The longest mount that holds it.
        self.mounts
            .iter()
            .filter_map(|(h, inside, _)| {
                let rest = host.strip_prefix(h.as_ref()?).ok()?;
                let at = if rest.as_os_str().is_empty() {
                    inside.clone()
                } else {
                    inside.join(rest)
                };
                Some((h.as_ref()?.as_os_str().len(), at))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, p)| p)
            .unwrap_or_else(|| host.to_path_buf())
    }
}

/// `PATH` inside a sandbox.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn am_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn find_program(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

impl Sandbox {
    /// No isolation (the student's own `just check`, or `--no-sandbox`).
    pub fn none(note: &str) -> Sandbox {
        Sandbox {
            kind: Kind::None,
            bwrap: PathBuf::new(),
            setpriv: PathBuf::new(),
            net_isolated: false,
            note: note.to_string(),
        }
    }

    /// The best isolation this machine offers (probed once per process):
    /// bubblewrap when it runs here, else setuid when we are root, else none.
    /// `want` limits it (`Some(Kind::Setuid)` forces the fallback).
    pub fn detect(want: Option<Kind>) -> Sandbox {
        static PROBED: OnceLock<Sandbox> = OnceLock::new();
        let best = PROBED.get_or_init(probe).clone();
        match want {
            Some(Kind::None) => Sandbox::none("--no-sandbox"),
            Some(Kind::Setuid) if best.kind != Kind::None => Sandbox {
                kind: Kind::Setuid,
                note: "fallback asked for".into(),
                ..best
            },
            _ => best,
        }
    }

    /// True unless this is [`Kind::None`].
    pub fn isolated(&self) -> bool {
        self.kind != Kind::None
    }

    /// One line for the top of the grader's output:
    /// `sandbox: bwrap (uid 61101, no network, read-only tree)`; `uid` is
    /// the run uid of the only worker, if there is one.
    pub fn describe(&self, uid: Option<u32>) -> String {
        let uids = match uid {
            Some(uid) => format!("uid {uid}"),
            None => format!(
                "one uid of {}-{} per worker",
                UID_BASE,
                UID_BASE + 2 * SLOTS as u32 - 1
            ),
        };
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!("; {}", self.note)
        };
        match self.kind {
            Kind::Bwrap => {
                format!("sandbox: bwrap ({uids}, no network, read-only tree{note})")
            }
            Kind::Setuid => format!(
                "sandbox: setuid ({uids}, {}, tree read-only by file rights, solutions must be unreadable{note})",
                if self.net_isolated {
                    "no network"
                } else {
                    "network reachable"
                }
            ),
            Kind::None => format!(
                "sandbox: none (submitted code runs with the grader's rights{note})"
            ),
        }
    }

    /// A command that runs `program` (a host path) with `args` in `jail`.
    /// Stdin is closed; stdout and stderr are the caller's to set.
    pub fn command(&self, jail: &Jail, program: &Path, args: &[&str]) -> Command {
        match self.kind {
            Kind::Bwrap => self.bwrap_command(jail, program, args),
            Kind::Setuid => {
                let mut cmd = Command::new(program);
                cmd.args(args).current_dir(&jail.cwd).env_clear();
                for (k, v) in &jail.env {
                    cmd.env(k, v);
                }
                let (uid, limits, net) = (jail.uid, jail.rlimits, self.net_isolated);
                // SAFETY: the closure runs between fork and exec and only
                // makes async-signal-safe system calls.
                unsafe {
                    cmd.pre_exec(move || {
                        if libc::setsid() < 0 {
                            return Err(io::Error::last_os_error());
                        }
                        if net {
                            unshare_net()?;
                        }
                        set_rlimits(limits)?;
                        drop_to(uid)
                    });
                }
                cmd.stdin(Stdio::null());
                cmd
            }
            Kind::None => {
                let mut cmd = Command::new(program);
                cmd.args(args)
                    .current_dir(&jail.cwd)
                    .env_remove("GOMAXPROCS")
                    // A group of its own, so that one kill reaches
                    // everything it started.
                    .process_group(0)
                    .stdin(Stdio::null());
                for (k, v) in &jail.env {
                    cmd.env(k, v);
                }
                cmd
            }
        }
    }

    fn bwrap_command(&self, jail: &Jail, program: &Path, args: &[&str]) -> Command {
        let mut a: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
        push(&[
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--ro-bind",
            "/usr",
            "/usr",
        ]);
        // Merged-/usr systems have symlinks here; others real folders.
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64"] {
            match fs::read_link(top) {
                Ok(target) => push(&["--symlink", &target.to_string_lossy(), top]),
                Err(_) if Path::new(top).is_dir() => push(&["--ro-bind", top, top]),
                Err(_) => {}
            }
        }
        // The linker is found through /etc/alternatives; the dynamic loader
        // reads ld.so.cache. Nothing else of /etc.
        push(&["--perms", "0755", "--dir", "/etc"]);
        for etc in [
            "/etc/alternatives",
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
        ] {
            push(&["--ro-bind-try", etc, etc]);
        }
        push(&[
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--size",
            &(256u64 << 20).to_string(),
            "--tmpfs",
            "/tmp",
        ]);
        let mut made: BTreeSet<PathBuf> = ["/", "/tmp", "/etc", "/usr", "/proc", "/dev"]
            .iter()
            .map(PathBuf::from)
            .collect();
        for (host, inside, writable) in &jail.mounts {
            // bwrap makes missing parents 0700; the sandbox uid must get
            // through them.
            let mut parents: Vec<&Path> = inside.ancestors().skip(1).collect();
            parents.reverse();
            for p in parents {
                if made.insert(p.to_path_buf()) {
                    push(&["--perms", "0755", "--dir", &p.to_string_lossy()]);
                }
            }
            made.insert(inside.clone());
            let inside = inside.to_string_lossy();
            match host {
                Some(h) => push(&[
                    if *writable { "--bind" } else { "--ro-bind" },
                    &h.to_string_lossy(),
                    &inside,
                ]),
                None => push(&["--perms", "0777", "--tmpfs", &inside]),
            }
        }
        push(&[
            "--chdir",
            &jail.inside(Kind::Bwrap, &jail.cwd).to_string_lossy(),
        ]);
        for (k, v) in &jail.env {
            push(&["--setenv", k, v]);
        }
        let uid = jail.uid.to_string();
        push(&[
            "--",
            &self.setpriv.to_string_lossy(),
            "--reuid",
            &uid,
            "--regid",
            &uid,
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            &jail.inside(Kind::Bwrap, program).to_string_lossy(),
        ]);
        push(args);
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(&a)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::null())
            .process_group(0);
        let limits = jail.rlimits;
        // SAFETY: only async-signal-safe system calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // If the grader dies, bwrap dies, and with it the sandbox
                // (--die-with-parent). bwrap is Linux-only.
                #[cfg(target_os = "linux")]
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                set_rlimits(limits)
            });
        }
        cmd
    }

    /// Kill every process of `uid` (only for sandbox uids) and wait until
    /// none is left. A process of that uid sends `SIGKILL` to every process
    /// it may signal (`kill(-1)`): exactly that uid's processes, wherever
    /// they moved (other groups, sessions, namespaces).
    pub fn kill_all(&self, uid: u32) {
        if self.kind == Kind::None || uid < UID_BASE {
            return;
        }
        // A killed process is gone from /proc only once the kernel has
        // torn it down (and its parent reaped it): wait up to ~2 s.
        for round in 0..400 {
            if pids_of(uid).is_empty() {
                return;
            }
            kill_as(uid);
            if round > 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Sandbox {
    /// Without a private `/tmp` (setuid), remove what `uid` left in the
    /// shared temporary folders, so nothing of one run reaches the next.
    pub fn sweep_tmp(&self, uid: u32) {
        if self.kind != Kind::Setuid || uid < UID_BASE {
            return;
        }
        for dir in ["/tmp", "/var/tmp", "/dev/shm"] {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for e in entries.filter_map(|e| e.ok()) {
                if fs::symlink_metadata(e.path()).is_ok_and(|m| m.uid() == uid) {
                    let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
                }
            }
        }
    }

    /// Whether `uid` could read `path` (checked by a child process that
    /// becomes `uid` and asks `access`).
    pub fn can_read(uid: u32, path: &Path) -> bool {
        let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
            return false;
        };
        // SAFETY: the child only makes async-signal-safe calls.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let ok = drop_to(uid).is_ok() && libc::access(c.as_ptr(), libc::R_OK) == 0;
                libc::_exit(if ok { 0 } else { 1 });
            }
            let mut status = 0;
            pid > 0
                && libc::waitpid(pid, &mut status, 0) == pid
                && libc::WIFEXITED(status)
                && libc::WEXITSTATUS(status) == 0
        }
    }
}

/// Processes whose owner (effective uid) is `uid` (Linux: from `/proc`).
#[cfg(target_os = "linux")]
pub fn pids_of(uid: u32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            (e.metadata().ok()?.uid() == uid && !is_zombie(pid)).then_some(pid)
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|st| st == "Z")
        })
        .unwrap_or(true)
}

/// Processes whose owner (effective uid) is `uid` (macOS has no `/proc`:
/// `proc_listallpids`, then each one's `proc_bsdinfo`).
#[cfg(target_os = "macos")]
pub fn pids_of(uid: u32) -> Vec<i32> {
    // SAFETY: with a null buffer proc_listallpids only counts.
    let n = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
    if n <= 0 {
        return Vec::new();
    }
    // Room for processes started since the count.
    let mut pids = vec![0 as libc::pid_t; n as usize + 64];
    let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as libc::c_int;
    // SAFETY: the buffer holds `bytes` bytes; the call writes at most that
    // and returns how many pids it wrote.
    let got = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast(), bytes) };
    pids.truncate(got.clamp(0, pids.len() as libc::c_int) as usize);
    pids.retain(|&pid| {
        let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
        // SAFETY: proc_pidinfo writes at most `size` bytes into the zeroed
        // struct we own and returns how many it wrote.
        let (n, info) = unsafe {
            let mut info: libc::proc_bsdinfo = std::mem::zeroed();
            let n =
                libc::proc_pidinfo(pid, libc::PROC_PIDTBSDINFO, 0, (&raw mut info).cast(), size);
            (n, info)
        };
        pid > 0 && n == size && info.pbi_uid == uid && info.pbi_status != libc::SZOMB
    });
    pids
}

/// A network namespace of its own for the calling process (Linux only).
#[cfg(target_os = "linux")]
fn unshare_net() -> io::Result<()> {
    // SAFETY: plain system call; async-signal-safe.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// macOS has no network namespaces: the setuid fallback there leaves the
/// network reachable (and says so).
#[cfg(not(target_os = "linux"))]
fn unshare_net() -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Resident memory of all processes of `uid`, in bytes.
pub fn resident_bytes_of(uid: u32) -> u64 {
    pids_of(uid)
        .into_iter()
        .map(crate::run::resident_bytes)
        .sum()
}

/// Fork a child that becomes `uid` and sends `SIGKILL` to everything it
/// may signal; wait for it.
fn kill_as(uid: u32) {
    // SAFETY: after fork the child only makes async-signal-safe calls
    // (setgroups, setresgid, setresuid, kill, _exit).
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            if drop_to(uid).is_ok() {
                libc::kill(-1, libc::SIGKILL);
            }
            libc::_exit(0);
        }
        if pid > 0 {
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }
}

/// Become `uid` (and gid `uid`), no supplementary groups, for good:
/// `setresuid` to a non-zero uid clears every capability.
#[cfg(target_os = "linux")]
fn drop_to(uid: u32) -> io::Result<()> {
    // SAFETY: plain system calls; async-signal-safe.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(uid, uid, uid) != 0
            || libc::setresuid(uid, uid, uid) != 0
            || libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Become `uid` (and gid `uid`), no supplementary groups, for good: on
/// macOS `setuid` as root sets the real, effective and saved uids (there is
/// no `setresuid`, and no `no_new_privs`).
#[cfg(target_os = "macos")]
fn drop_to(uid: u32) -> io::Result<()> {
    // SAFETY: plain system calls; async-signal-safe.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(uid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn set_rlimits(l: Rlimits) -> io::Result<()> {
    let set = |res, n: u64| {
        let lim = libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
        // SAFETY: setrlimit with a valid struct; async-signal-safe.
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    set(libc::RLIMIT_NPROC, l.processes)?;
    set(libc::RLIMIT_FSIZE, l.file_size)?;
    set(libc::RLIMIT_CORE, 0)
}

/// Find out what this machine offers: run `true` the way a submission
/// would run.
fn probe() -> Sandbox {
    let mut sb = Sandbox::none("");
    if !am_root() {
        sb.note =
            "not root: no uid to drop to (run the grader as root, or pass --no-sandbox)".into();
        return sb;
    }
    sb.kind = Kind::Setuid;
    sb.setpriv = find_program("setpriv").unwrap_or_default();
    let truth = find_program("true").unwrap_or_else(|| PathBuf::from("/bin/true"));
    // A slot of its own, so that no other grader's kill reaches the probe.
    let Ok(slot) = Slot::acquire() else {
        sb.note = "cannot lock a sandbox slot".into();
        return sb;
    };
    let jail = Jail {
        uid: slot.run_uid(),
        mounts: Vec::new(),
        cwd: PathBuf::from("/"),
        env: vec![("PATH".into(), PATH.into())],
        rlimits: Rlimits {
            processes: 64,
            file_size: 1 << 20,
        },
        report: false,
    };
    let works = |sb: &Sandbox| {
        sb.command(&jail, &truth, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    sb.net_isolated = true;
    if !works(&sb) {
        sb.net_isolated = false;
    }
    match find_program("bwrap") {
        None => sb.note = "bwrap not installed".into(),
        Some(_) if sb.setpriv.as_os_str().is_empty() => sb.note = "setpriv not found".into(),
        Some(bwrap) => {
            let mut b = Sandbox {
                kind: Kind::Bwrap,
                bwrap,
                ..sb.clone()
            };
            b.note.clear();
            if works(&b) {
                return b;
            }
            sb.note = "bwrap cannot make namespaces here".into();
        }
    }
    sb
}

/// Make everything under the folder `path` owned by `uid` (a build run
/// with the grader's rights may have left files of root's there).
pub fn chown_tree(path: &Path, uid: u32) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.uid() != uid || meta.gid() != uid {
        lchown(path, uid)?;
    }
    if meta.is_dir() {
        for e in fs::read_dir(path)? {
            chown_tree(&e?.path(), uid)?;
        }
    }
    Ok(())
}

fn lchown(path: &Path, uid: u32) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: a valid C string; lchown does not follow symlinks.
    if unsafe { libc::lchown(c.as_ptr(), uid, uid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The Rust toolchain and the crates a build needs, found on the host.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The toolchain's root (`rustc --print sysroot`): `bin/cargo`,
    /// `bin/rustc`, the standard library.
    pub sysroot: PathBuf,
    /// Cargo's downloaded crates (`$CARGO_HOME/registry`).
    pub registry: PathBuf,
}

impl Toolchain {
    /// The toolchain that builds the workspace at `root` (rustup's choice
    /// for that folder), and cargo's registry.
    pub fn find(root: &Path) -> io::Result<Toolchain> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let out = Command::new(&rustc)
            .args(["--print", "sysroot"])
            .current_dir(root)
            .stderr(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other("`rustc --print sysroot` failed"));
        }
        let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
            .ok_or_else(|| io::Error::other("neither CARGO_HOME nor HOME is set"))?;
        let tc = Toolchain {
            sysroot,
            registry: cargo_home.join("registry"),
        };
        if !tc.cargo().is_file() {
            return Err(io::Error::other(format!(
                "no cargo in the toolchain at {}",
                tc.sysroot.display()
            )));
        }
        Ok(tc)
    }

    /// The toolchain's `cargo` (not rustup's proxy).
    pub fn cargo(&self) -> PathBuf {
        self.sysroot.join("bin/cargo")
    }
}
