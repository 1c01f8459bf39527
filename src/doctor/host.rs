//! What the host itself provides: /run/netns (a shared mount point, or one patchwire can make)
//! and libpcap (optional, for filters).

use std::ffi::CString;
use std::io;
use std::path::Path;

use super::{Check, Item, RUN_AS_ROOT};
use crate::netns::NETNS_RUN_DIR;

/// /run/netns: there (or creatable), and a shared mount point or one patchwire can make it.
/// The making is tried in a private mount namespace of a helper thread, whose mounts are
/// slaves of the host's: nothing done there reaches the host.
pub(super) fn run_netns_dir(sys_admin: bool) -> Item {
    let dir = Path::new(NETNS_RUN_DIR);
    let mount = mount_of(dir);
    if !dir.is_dir() {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        if !writable(parent) {
            return Item::missing(
                Check::RunNetns,
                format!("absent, and {} is not writable here", parent.display()),
                RUN_AS_ROOT,
            );
        }
        return if sys_admin {
            Item::ok(
                Check::RunNetns,
                "absent: made (a shared mount point) with the first named namespace",
            )
        } else {
            Item::missing(
                Check::RunNetns,
                "absent; making it a mount point needs CAP_SYS_ADMIN",
                RUN_AS_ROOT,
            )
        };
    }
    if mount == Some(true) {
        return Item::ok(Check::RunNetns, "exists, a shared mount point");
    }
    let state = match mount {
        Some(_) => "exists, a mount point but not shared",
        None => "exists, not a mount point yet",
    };
    match try_make_shared(dir, mount.is_some()) {
        Ok(()) => Item::ok(
            Check::RunNetns,
            format!("{state}: made shared with the first named namespace (tried privately)"),
        ),
        Err(error) if matches!(error.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
            Item::unchecked(
                Check::RunNetns,
                format!(
                    "{state}; not checked whether it can be made shared: {error} (needs CAP_SYS_ADMIN)"
                ),
                RUN_AS_ROOT,
            )
        }
        Err(error) => Item::missing(
            Check::RunNetns,
            format!("{state}, and it cannot be made shared: {error}"),
            "as root: mount --bind /run/netns /run/netns; mount --make-shared /run/netns",
        ),
    }
}

/// Whether `dir` is a mount point (the topmost mount there), and if so whether it is shared.
fn mount_of(dir: &Path) -> Option<bool> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_mountinfo(&mountinfo, dir.to_str()?)
}

/// mountinfo(5): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE ...`;
/// a `shared:N` optional field marks a shared mount. The last line for a mount point is the
/// mount on top.
fn parse_mountinfo(mountinfo: &str, dir: &str) -> Option<bool> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (fields.get(4) == Some(&dir)).then(|| {
                fields[6..]
                    .iter()
                    .take_while(|f| **f != "-")
                    .any(|f| f.starts_with("shared:"))
            })
        })
        .next_back()
}

fn writable(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path that outlives the call; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// What `Netns::create_named` does to /run/netns on first use (bind it onto itself when it is
/// no mount point, then make it shared), done in a throwaway mount namespace.
fn try_make_shared(dir: &Path, mount_point: bool) -> io::Result<()> {
    let path = CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    let mount = |source: &std::ffi::CStr, target: &std::ffi::CStr, flags: libc::c_ulong| {
        let none = c"none";
        // SAFETY: NUL-terminated strings that outlive the call; null data is allowed.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                none.as_ptr(),
                flags,
                std::ptr::null(),
            )
        };
        match rc {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: unshare only gives this helper thread its own mount namespace (and
                // its own fs_struct); the thread ends right after, and the namespace with it.
                if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                // From here on nothing propagates back to the host's mounts.
                mount(c"none", c"/", libc::MS_REC | libc::MS_SLAVE)?;
                if !mount_point {
                    mount(&path, &path, libc::MS_BIND)?;
                }
                mount(c"none", &path, libc::MS_SHARED | libc::MS_REC)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("mount helper thread panicked")))
    })
}

/// libpcap, loaded at run time for filters: the same names, in the same order, as the
/// filter compiler tries (`bpf::pcap::LIBRARIES`).
pub(super) fn libpcap() -> Item {
    const USES: &str = "capture -f, mirror add --filter and lab mirrors' `filter:`";
    let libraries = crate::bpf::pcap::LIBRARIES;
    match first_loadable(&libraries) {
        Some(name) => Item::ok(
            Check::Libpcap,
            format!("{name} loads: optional, for {USES}"),
        )
        .optional(),
        None => Item::missing(
            Check::Libpcap,
            format!(
                "none of {} loads: optional, for {USES}",
                libraries.join(", ")
            ),
            "apt install libpcap0.8",
        )
        .optional(),
    }
}

/// The first of `names` that dlopen loads.
fn first_loadable<'n>(names: &[&'n str]) -> Option<&'n str> {
    names.iter().copied().find(|name| {
        let Ok(soname) = std::ffi::CString::new(*name) else {
            return false;
        };
        // SAFETY: dlopen with a NUL-terminated name; the handle is closed at once and no
        // symbol from it is ever used.
        let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return false;
        }
        // SAFETY: a handle dlopen returned, closed once.
        unsafe { libc::dlclose(handle) };
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpcap_is_looked_for_under_every_name_capture_tries() {
        assert_eq!(
            first_loadable(&["libpw-no-such-library.so.1", "libpcap.so.0.8"]),
            Some("libpcap.so.0.8")
        );
        assert_eq!(first_loadable(&["libpw-no-such-library.so.1"]), None);
        let item = libpcap();
        assert_eq!(
            item.detail,
            "libpcap.so.0.8 loads: optional, for capture -f, mirror add --filter and lab \
             mirrors' `filter:`"
        );
        assert!(!item.detail.contains("not built yet"));
    }

    #[test]
    fn shared_mount_points_are_told_from_private_ones() {
        let run = "24 1 0:22 / /run rw,nosuid shared:5 - tmpfs tmpfs rw\n";
        let private = "90 24 0:22 /netns /run/netns rw,nosuid - tmpfs tmpfs rw\n";
        let shared = "91 90 0:22 /netns /run/netns rw shared:300 master:5 - tmpfs tmpfs rw\n";
        let both = format!("{run}{private}{shared}");
        // The last mount on a mount point is the one on top.
        assert_eq!(parse_mountinfo(&both, "/run/netns"), Some(true));
        assert_eq!(
            parse_mountinfo(&format!("{run}{private}"), "/run/netns"),
            Some(false)
        );
        assert_eq!(parse_mountinfo(&both, "/run"), Some(true));
        assert_eq!(parse_mountinfo(&both, "/sys"), None);
    }
}
