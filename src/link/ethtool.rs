//! TX checksum offload of an interface (the `tx-checksumming` of `ethtool -k`), through the
//! SIOCETHTOOL ioctl. Works in the calling thread's network namespace: call it inside
//! [`crate::netns::Netns::run`].
//!
//! Why a wire cares: a packet a namespace's stack sends over a veth keeps a *partial* checksum
//! (CHECKSUM_PARTIAL) all along a purely virtual path. When it leaves through an interface
//! whose TX checksum offload is off, the kernel completes the checksum right there; otherwise
//! it may reach a VM or router image with the checksum unfinished, and many drop it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// linux/sockios.h
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// linux/ethtool.h: get / set TX checksum offload (struct ethtool_value).
const ETHTOOL_GTXCSUM: u32 = 0x16;
const ETHTOOL_STXCSUM: u32 = 0x17;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// struct ifreq with the `ifr_data` member of its union (40 bytes on 64-bit Linux).
#[repr(C)]
struct IfreqData {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// A socket to send ethtool requests on, in the namespace of the thread that opened it.
pub struct Ethtool {
    socket: OwnedFd,
}

impl Ethtool {
    /// Opens the socket (an AF_INET datagram socket) in the calling thread's namespace.
    pub fn open() -> io::Result<Ethtool> {
        // SAFETY: socket(2) with constant arguments; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Ethtool { socket })
    }

    /// Whether TX checksum offload is on for `name`.
    pub fn tx_checksum(&self, name: &str) -> io::Result<bool> {
        let mut value = EthtoolValue {
            cmd: ETHTOOL_GTXCSUM,
            data: 0,
        };
        self.request(name, &mut value)?;
        Ok(value.data != 0)
    }

    /// Turns TX checksum offload of `name` on or off.
    pub fn set_tx_checksum(&self, name: &str, on: bool) -> io::Result<()> {
        let mut value = EthtoolValue {
            cmd: ETHTOOL_STXCSUM,
            data: on as u32,
        };
        self.request(name, &mut value)
    }

    fn request(&self, name: &str, value: &mut EthtoolValue) -> io::Result<()> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid interface name {name:?}"),
            ));
        }
        let mut request = IfreqData {
            name: [0; libc::IFNAMSIZ],
            data: (value as *mut EthtoolValue).cast(),
            _pad: [0; 16],
        };
        request.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: `request` is a properly laid out struct ifreq whose ifr_data points at
        // `value`, which outlives the call; the kernel reads and writes only those two structs.
        let result =
            unsafe { libc::ioctl(self.socket.as_raw_fd(), SIOCETHTOOL as _, &mut request) };
        if result < 0 {
            let error = io::Error::last_os_error();
            return Err(io::Error::new(
                error.kind(),
                format!("ethtool on {name}: {error}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<IfreqData>(), 40);
        assert_eq!(std::mem::size_of::<EthtoolValue>(), 8);
    }

    #[test]
    fn bad_names_are_refused_before_the_kernel() {
        let ethtool = Ethtool::open().unwrap();
        let kind = |name: &str| ethtool.tx_checksum(name).unwrap_err().kind();
        assert_eq!(kind(""), io::ErrorKind::InvalidInput);
        assert_eq!(kind("a234567890123456"), io::ErrorKind::InvalidInput);
    }
}
