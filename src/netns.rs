//! Network namespaces: a handle that owns the namespace's fd and runs work inside it.
//!
//! Sockets belong to the namespace of the thread that created them, so work "in" a namespace
//! means: start a helper thread, `setns` it into the namespace, create the socket there, return
//! it. The socket stays bound to that namespace and is used from any thread afterwards.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::nl::RouteSocket;

/// Where `ip netns add NAME` bind-mounts named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Why a namespace could not be opened, created, entered or deleted. [`NetnsError::raw_os_error`]
/// gives the errno where there is one.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// No such namespace.
    #[error("netns {name} does not exist (no {path})")]
    NotFound {
        /// The namespace as the user named it.
        name: String,
        /// The file that is missing.
        path: PathBuf,
    },
    /// The namespace file exists but could not be opened (EACCES, EPERM…).
    #[error("opening netns {name} ({path}): {source}")]
    Open {
        /// The namespace as the user named it.
        name: String,
        /// The file that was opened.
        path: PathBuf,
        /// Why opening failed.
        source: io::Error,
    },
    /// The file exists but is not a network namespace.
    #[error(
        "{} is {}not a network namespace",
        .path.display(),
        .kind.map(|k| format!("{} {k} namespace, ", if k == "IPC" { "an" } else { "a" })).unwrap_or_default()
    )]
    NotANetns {
        /// The file.
        path: PathBuf,
        /// The kind of namespace it is, when it is one ("mount", "user"…).
        kind: Option<&'static str>,
    },
    /// setns into the namespace failed.
    #[error("entering netns {name}: {source}")]
    Enter {
        /// The namespace's label.
        name: String,
        /// Why setns failed.
        source: io::Error,
    },
    /// unshare(CLONE_NEWNET) failed (EPERM without CAP_SYS_ADMIN).
    #[error("creating a private network namespace: {0}")]
    Create(io::Error),
    /// Making a namespace under /run/netns failed (EEXIST when the name is taken).
    #[error("creating netns {name} ({path}): {source}")]
    CreateNamed {
        /// The name asked for.
        name: String,
        /// Its file under /run/netns.
        path: PathBuf,
        /// The step that failed.
        source: io::Error,
    },
    /// Unmounting or removing /run/netns/NAME failed.
    #[error("deleting netns {name}: {source}")]
    Delete {
        /// The namespace's name.
        name: String,
        /// Why it failed.
        source: io::Error,
    },
    /// Opening a netlink socket inside the namespace failed.
    #[error("opening a netlink socket in netns {name}: {source}")]
    Socket {
        /// The namespace's label.
        name: String,
        /// Why it failed.
        source: io::Error,
    },
}

impl NetnsError {
    /// The errno behind this error, so callers can tell EPERM (not root) from the rest.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            NetnsError::Open { source, .. }
            | NetnsError::Enter { source, .. }
            | NetnsError::Socket { source, .. }
            | NetnsError::Create(source)
            | NetnsError::CreateNamed { source, .. }
            | NetnsError::Delete { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// A namespace's identity, stable while it exists: the device and inode of its nsfs file (what
/// `ip netns identify` compares). Two handles, names or paths name the same namespace exactly
/// when their keys are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsKey {
    /// Device of the nsfs file.
    pub dev: u64,
    /// Inode of the nsfs file.
    pub inode: u64,
}

impl NsKey {
    /// The key of the namespace file (or any file naming it) whose metadata is `meta`.
    pub fn of(meta: &std::fs::Metadata) -> NsKey {
        NsKey {
            dev: meta.dev(),
            inode: meta.ino(),
        }
    }
}

/// A network namespace, held open by its fd (which also keeps a private namespace alive).
#[derive(Debug)]
pub struct Netns {
    label: String,
    fd: OwnedFd,
    inode: NsKey,
}

impl Netns {
    /// The namespace of the calling thread.
    pub fn current() -> Result<Self, NetnsError> {
        Self::from_path("(current)", Path::new("/proc/thread-self/ns/net"))
    }

    /// `-n SPEC` as iproute2 reads it: a name under /run/netns, or a path to a namespace file
    /// (`/proc/PID/ns/net`, a bind mount). `None` is the current namespace.
    pub fn open(spec: Option<&str>) -> Result<Self, NetnsError> {
        match spec {
            None => Self::current(),
            Some(spec) if spec.contains('/') => Self::from_path(spec, Path::new(spec)),
            Some(name) => Self::from_path(name, &Path::new(NETNS_RUN_DIR).join(name)),
        }
    }

    fn from_path(label: &str, path: &Path) -> Result<Self, NetnsError> {
        // /proc/PID/ns/mnt names its kind: say so even where opening it is not allowed.
        if let Some(kind) = proc_ns_kind(path).filter(|k| *k != "network") {
            return Err(NetnsError::NotANetns {
                path: path.into(),
                kind: Some(kind),
            });
        }
        let file = File::open(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => NetnsError::NotFound {
                name: label.into(),
                path: path.into(),
            },
            _ => NetnsError::Open {
                name: label.into(),
                path: path.into(),
                source,
            },
        })?;
        match ns_kind(file.as_fd()) {
            Some("network") => {}
            kind => {
                return Err(NetnsError::NotANetns {
                    path: path.into(),
                    kind,
                });
            }
        }
        let meta = file.metadata().map_err(|source| NetnsError::Open {
            name: label.into(),
            path: path.into(),
            source,
        })?;
        Ok(Netns {
            label: label.to_string(),
            fd: file.into(),
            inode: NsKey::of(&meta),
        })
    }

    /// A new, unnamed namespace. It lives as long as this handle (and anything inside it that
    /// holds it), so it disappears with the process even on SIGKILL: nothing to clean up.
    pub fn create_private(label: &str) -> Result<Self, NetnsError> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: unshare only changes this helper thread's namespace; no memory is involved.
                    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                        return Err(NetnsError::Create(io::Error::last_os_error()));
                    }
                    let mut netns = Self::from_path(label, Path::new("/proc/thread-self/ns/net"))?;
                    netns.label = label.to_string();
                    Ok(netns)
                })
                .join()
                .expect("netns helper thread panicked")
        })
    }

    /// A new namespace registered as /run/netns/NAME, exactly as `ip netns add NAME` makes it
    /// (so `ip -n NAME` and every other tool see it): /run/netns made a shared mount point once,
    /// an empty file, a new namespace bind-mounted onto it. Fails with EEXIST when the name is
    /// taken.
    pub fn create_named(name: &str) -> Result<Self, NetnsError> {
        Self::create_named_with(name, |_| Ok(()))
    }

    /// [`Self::create_named`], running `prepare` inside the new namespace (with a route
    /// socket opened there) *before* it is registered under /run/netns: whatever `prepare`
    /// sets up — a mark on the loopback, say — is there from the first moment anyone can see
    /// the name. If `prepare` fails, nothing is registered.
    pub fn create_named_with(
        name: &str,
        prepare: impl FnOnce(&mut RouteSocket) -> io::Result<()> + Send,
    ) -> Result<Self, NetnsError> {
        let path = Path::new(NETNS_RUN_DIR).join(name);
        let failed = |source: io::Error| NetnsError::CreateNamed {
            name: name.into(),
            path: path.clone(),
            source,
        };
        prepare_run_dir().map_err(failed)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(failed)?;
        let made = std::thread::scope(|scope| {
            scope
                .spawn(|| -> io::Result<()> {
                    // SAFETY: unshare only changes this helper thread's namespace.
                    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    prepare(&mut RouteSocket::open()?)?;
                    bind_mount(Path::new("/proc/thread-self/ns/net"), &path)
                })
                .join()
                .expect("netns helper thread panicked")
        });
        if let Err(source) = made {
            let _ = std::fs::remove_file(&path);
            return Err(failed(source));
        }
        Self::from_path(name, &path)
    }

    /// The same handle under another name (for messages).
    pub fn with_label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// The name the user gave (or "(current)").
    pub fn label(&self) -> &str {
        &self.label
    }

    /// "netns lab1", or "the current netns": for messages.
    pub fn describe(&self) -> String {
        if self.label == "(current)" {
            "the current netns".into()
        } else {
            format!("netns {}", self.label)
        }
    }

    /// The namespace's fd (for setns, or netlink requests that take a namespace fd).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether two handles name the same namespace.
    pub fn same_as(&self, other: &Netns) -> bool {
        self.inode == other.inode
    }

    /// A stable identity for the namespace (device and inode of its nsfs file).
    pub fn inode(&self) -> NsKey {
        self.inode
    }

    /// Runs `work` on a thread inside this namespace and returns its result.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        if Self::current().is_ok_and(|here| here.same_as(self)) {
            return Ok(work());
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: setns on a valid namespace fd we own; it only moves this helper thread.
                    if unsafe { libc::setns(self.fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(NetnsError::Enter {
                            name: self.label.clone(),
                            source: io::Error::last_os_error(),
                        });
                    }
                    Ok(work())
                })
                .join()
                .expect("netns worker thread panicked")
        })
    }

    /// An rtnetlink socket inside this namespace.
    pub fn route(&self) -> Result<RouteSocket, NetnsError> {
        self.run(RouteSocket::open)?
            .map(|socket| socket.described_as(self.describe()))
            .map_err(|source| NetnsError::Socket {
                name: self.label.clone(),
                source,
            })
    }

    /// Duplicates the handle (a new fd on the same namespace).
    pub fn try_clone(&self) -> io::Result<Netns> {
        Ok(Netns {
            label: self.label.clone(),
            fd: self.fd.try_clone()?,
            inode: self.inode,
        })
    }
}

/// Removes /run/netns/NAME like `ip netns del NAME`: unmount, then remove the file. The
/// namespace itself goes once nothing holds it (processes, open fds). A missing name is fine.
pub fn delete_named(name: &str) -> Result<(), NetnsError> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    let c_path = c_path(&path).map_err(|source| NetnsError::Delete {
        name: name.into(),
        source,
    })?;
    // SAFETY: a NUL-terminated path; MNT_DETACH unmounts lazily. EINVAL = not mounted (a file
    // left by an interrupted create), ENOENT = gone already: both fine.
    let unmounted = unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) };
    if unmounted != 0 {
        let error = io::Error::last_os_error();
        if !matches!(error.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) {
            return Err(NetnsError::Delete {
                name: name.into(),
                source: error,
            });
        }
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(NetnsError::Delete {
            name: name.into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Registers the network namespace of process `pid` as /run/netns/NAME, as `ip netns attach
/// NAME PID` does (a bind mount of /proc/PID/ns/net), so `-n NAME` and every tool reach it: how
/// a container's namespace gets a name. A registration of another namespace under that name (a
/// container restarted since, with a new process and namespace; an empty file an interrupted
/// call left) is replaced; one of the same namespace is kept. Returns whether it changed
/// anything. Removal is [`delete_named`].
pub fn register(name: &str, pid: u32) -> Result<bool, NetnsError> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    let failed = |source: io::Error| NetnsError::CreateNamed {
        name: name.into(),
        path: path.clone(),
        source,
    };
    if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
        let e = "a namespace name is a file name under /run/netns (no '/', not . or ..)";
        return Err(failed(io::Error::new(io::ErrorKind::InvalidInput, e)));
    }
    let target = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let wanted = std::fs::metadata(&target).map_err(failed)?;
    if let Ok(held) = std::fs::metadata(&path) {
        if NsKey::of(&held) == NsKey::of(&wanted) {
            return Ok(false);
        }
        delete_named(name)?;
    }
    prepare_run_dir().map_err(failed)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(failed)?;
    if let Err(source) = bind_mount(&target, &path) {
        let _ = std::fs::remove_file(&path);
        return Err(failed(source));
    }
    Ok(true)
}

fn c_path(path: &Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// /run/netns exists and is a shared mount point, so a namespace mounted there from any mount
/// namespace is seen by all (what iproute2 does before its first `netns add`).
fn prepare_run_dir() -> io::Result<()> {
    let dir = Path::new(NETNS_RUN_DIR);
    std::fs::create_dir_all(dir)?;
    match make_shared(dir) {
        // Not a mount point yet: bind it onto itself, then make it shared.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            bind_mount(dir, dir)?;
            make_shared(dir)
        }
        other => other,
    }
}

fn make_shared(dir: &Path) -> io::Result<()> {
    let dir = c_path(dir)?;
    let none = c"none";
    // SAFETY: NUL-terminated strings that outlive the call; null data is allowed.
    let shared = unsafe {
        libc::mount(
            none.as_ptr(),
            dir.as_ptr(),
            none.as_ptr(),
            libc::MS_SHARED | libc::MS_REC,
            std::ptr::null(),
        )
    };
    match shared {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn bind_mount(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (c_path(from)?, c_path(to)?);
    let none = c"none";
    // SAFETY: NUL-terminated strings that outlive the call; null data is allowed for a bind.
    let mounted = unsafe {
        libc::mount(
            from.as_ptr(),
            to.as_ptr(),
            none.as_ptr(),
            // MS_REC as iproute2: binding /run/netns onto itself must carry the namespaces
            // already mounted inside it, or they would be hidden.
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    match mounted {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Whether namespaces this process registers under /run/netns would stay in its own mount
/// namespace: /run/netns is a slave mount here (`master:` in mountinfo), so mounts made under
/// it never reach the mount namespace it came from. That is what `ip netns exec` gives its
/// command (it unshares the mounts and makes them slaves): the names vanish when the process
/// exits, leaving empty files. Not private when this is PID 1's mount namespace, or when
/// /run/netns is not a mount point yet (patchwire makes it a shared one).
pub fn registrations_stay_private() -> bool {
    let ours = std::fs::read_link("/proc/self/ns/mnt").ok();
    if ours.is_some() && ours == std::fs::read_link("/proc/1/ns/mnt").ok() {
        return false;
    }
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    run_dir_is_slave(&mountinfo)
}

/// In mountinfo text: the topmost mount on /run/netns carries a `master:N` tag.
fn run_dir_is_slave(mountinfo: &str) -> bool {
    // `68 47 254:0 /run/netns /run/netns rw,relatime master:1 - ext4 …`: the mount point is
    // field 5, optional tags follow field 6 up to `-`. The last line for a point is on top.
    mountinfo
        .lines()
        .rfind(|line| line.split_whitespace().nth(4) == Some(NETNS_RUN_DIR))
        .is_some_and(|line| {
            line.split_whitespace()
                .skip(6)
                .take_while(|f| *f != "-")
                .any(|tag| tag.starts_with("master:"))
        })
}

/// The name under /run/netns of the network namespace this process is in, if it has one.
pub fn current_name() -> Option<String> {
    let here = std::fs::metadata("/proc/self/ns/net").ok()?;
    named().into_iter().find(|name| {
        std::fs::metadata(Path::new(NETNS_RUN_DIR).join(name))
            .is_ok_and(|m| m.dev() == here.dev() && m.ino() == here.ino())
    })
}

/// Names of the namespaces under /run/netns.
pub fn named() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(NETNS_RUN_DIR)
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// NS_GET_NSTYPE (linux/nsfs.h: _IO(0xb7, 0x3)) tells what kind of namespace an nsfs fd is.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The kind of namespace an fd is, or `None` when it is no namespace.
fn ns_kind(fd: BorrowedFd<'_>) -> Option<&'static str> {
    // SAFETY: an argument-less ioctl on an fd we hold; on a non-nsfs file it fails harmlessly.
    let kind = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    Some(match kind {
        libc::CLONE_NEWNET => "network",
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWUTS => "UTS",
        libc::CLONE_NEWIPC => "IPC",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWPID => "PID",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWTIME => "time",
        _ => return None,
    })
}

/// The kind of namespace a path of the form `/proc/…/ns/NAME` names, by its NAME.
fn proc_ns_kind(path: &Path) -> Option<&'static str> {
    if !path.starts_with("/proc") || path.parent()?.file_name()? != "ns" {
        return None;
    }
    Some(match path.file_name()?.to_str()? {
        "net" => "network",
        "mnt" => "mount",
        "uts" => "UTS",
        "ipc" => "IPC",
        "user" => "user",
        "pid" | "pid_for_children" => "PID",
        "cgroup" => "cgroup",
        "time" | "time_for_children" => "time",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_named_netns_is_reported_by_name() {
        let err = Netns::open(Some("pw-no-such-netns")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "netns pw-no-such-netns does not exist (no /run/netns/pw-no-such-netns)"
        );
    }

    #[test]
    fn a_file_that_is_not_a_netns_is_refused() {
        let err = Netns::open(Some("/proc/self/status")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/self/status is not a network namespace"
        );
    }

    #[test]
    fn other_kinds_of_namespace_are_named() {
        // PID 1's namespace files cannot be opened in every container: the path says it.
        for (spec, kind) in [
            ("/proc/1/ns/mnt", "a mount"),
            ("/proc/self/ns/uts", "a UTS"),
            ("/proc/thread-self/ns/user", "a user"),
            ("/proc/1/task/1/ns/pid_for_children", "a PID"),
        ] {
            let err = Netns::open(Some(spec)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{spec} is {kind} namespace, not a network namespace")
            );
        }
        // Elsewhere the kernel tells (NS_GET_NSTYPE).
        let link = std::env::temp_dir().join(format!("pw-ipc-ns-{}", std::process::id()));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/proc/self/ns/ipc", &link).unwrap();
        let err = Netns::open(link.to_str()).unwrap_err();
        std::fs::remove_file(&link).unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is an IPC namespace, not a network namespace",
                link.display()
            )
        );
    }

    #[test]
    fn a_slave_run_dir_keeps_registrations_private() {
        let host = "45 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw\n";
        let exec = "68 47 254:0 /run/netns /run/netns rw,relatime master:1 - ext4 /dev/vda rw\n";
        let made_shared = "68 47 254:0 /run/netns /run/netns rw shared:9 master:1 - ext4 x rw\n";
        assert!(!run_dir_is_slave(host));
        assert!(run_dir_is_slave(exec));
        assert!(run_dir_is_slave(made_shared));
        assert!(!run_dir_is_slave(
            "27 1 254:0 / / rw shared:1 - ext4 /dev/vda rw\n"
        ));
        // The topmost mount on the point decides.
        assert!(!run_dir_is_slave(&format!("{exec}{host}")));
    }
}
