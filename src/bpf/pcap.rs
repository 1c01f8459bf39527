//! tcpdump filter expressions compiled by libpcap — the library every capture tool uses —
//! into classic BPF that the kernel runs on the socket, so unwanted frames never leave it.
//!
//! libpcap is loaded at run time, and only when a filter is given: patchwire builds and runs
//! without it, and a missing library is a clear error naming the Debian package. The filter is
//! compiled against a live handle, because only then does libpcap know it is on Linux and
//! match VLAN tags in the kernel's metadata as well as in the bytes (`vlan 100` would otherwise
//! look only for a tag in the bytes, which the kernel has already taken out). The handle is
//! opened on the loopback of a private, throwaway namespace: libpcap refuses interfaces that
//! are down, and the program it makes is the same for every Ethernet interface (checked with
//! `tcpdump -d`), so the interfaces captured on are never touched and may be down.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};

use super::classic::SockFilter;

/// The libraries tried, in order (Debian's libpcap0.8 ships the first).
pub const LIBRARIES: [&str; 3] = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"];
const ERRBUF_SIZE: usize = 256;
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;

#[repr(C)]
struct BpfProgram {
    len: c_uint,
    instructions: *const SockFilter,
}

type Create = unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut c_void;
type SetInt = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type Activate = unsafe extern "C" fn(*mut c_void) -> c_int;
type Compile =
    unsafe extern "C" fn(*mut c_void, *mut BpfProgram, *const c_char, c_int, u32) -> c_int;
type FreeCode = unsafe extern "C" fn(*mut BpfProgram);
type GetErr = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type Close = unsafe extern "C" fn(*mut c_void);

/// Why a filter could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// libpcap is not installed.
    #[error(
        "a capture filter needs libpcap, which is not installed (apt-get install libpcap0.8): {0}"
    )]
    NoLibpcap(String),
    /// libpcap refused the expression (its own message).
    #[error("filter {expression:?}: {message}")]
    Syntax {
        /// The expression as given.
        expression: String,
        /// libpcap's message.
        message: String,
    },
    /// Opening the handle to compile with failed (on the loopback of a throwaway namespace).
    #[error(
        "compiling the filter: opening a libpcap handle on {interface} of a private namespace: {message}"
    )]
    Open {
        /// The interface.
        interface: String,
        /// libpcap's message.
        message: String,
    },
}

/// Compiles `expression` into classic BPF for Ethernet interfaces, with frames cut to
/// `snaplen` (the program's accept value).
pub fn compile(expression: &str, snaplen: u32) -> Result<Vec<SockFilter>, FilterError> {
    let open_error = |message: String| FilterError::Open {
        interface: "lo".into(),
        message,
    };
    let scratch = crate::netns::Netns::create_private("pcap-compile")
        .map_err(|e| open_error(e.to_string()))?;
    let expression = expression.to_string();
    scratch
        .run(move || {
            let mut socket =
                crate::nl::RouteSocket::open().map_err(|e| open_error(e.to_string()))?;
            // A new namespace's loopback is index 1, and down.
            socket
                .request(
                    crate::nl::link::set_up(crate::nl::link::IfIndex(1), true),
                    0,
                )
                .map_err(|e| open_error(e.to_string()))?;
            compile_on(&expression, "lo", snaplen)
        })
        .map_err(|e| open_error(e.to_string()))?
}

/// Compiles `expression` against a live handle on `interface` of the calling thread's
/// namespace.
fn compile_on(
    expression: &str,
    interface: &str,
    snaplen: u32,
) -> Result<Vec<SockFilter>, FilterError> {
    let library = LIBRARIES
        .iter()
        // SAFETY: loading libpcap runs its initialisers, which have no preconditions.
        .find_map(|name| unsafe { libloading::Library::new(*name) }.ok())
        .ok_or_else(|| FilterError::NoLibpcap(format!("none of {} found", LIBRARIES.join(", "))))?;
    let symbol_error = |e: libloading::Error| FilterError::NoLibpcap(e.to_string());
    // SAFETY: the types match libpcap's declarations in <pcap/pcap.h>.
    let (create, set_snaplen, set_buffer_size, activate, compile, free_code, get_error, close) = unsafe {
        (
            *library
                .get::<Create>(b"pcap_create\0")
                .map_err(symbol_error)?,
            *library
                .get::<SetInt>(b"pcap_set_snaplen\0")
                .map_err(symbol_error)?,
            *library
                .get::<SetInt>(b"pcap_set_buffer_size\0")
                .map_err(symbol_error)?,
            *library
                .get::<Activate>(b"pcap_activate\0")
                .map_err(symbol_error)?,
            *library
                .get::<Compile>(b"pcap_compile\0")
                .map_err(symbol_error)?,
            *library
                .get::<FreeCode>(b"pcap_freecode\0")
                .map_err(symbol_error)?,
            *library
                .get::<GetErr>(b"pcap_geterr\0")
                .map_err(symbol_error)?,
            *library
                .get::<Close>(b"pcap_close\0")
                .map_err(symbol_error)?,
        )
    };
    let open_error = |message: String| FilterError::Open {
        interface: interface.to_string(),
        message,
    };
    let device = CString::new(interface).map_err(|e| open_error(e.to_string()))?;
    let text = CString::new(expression).map_err(|_| FilterError::Syntax {
        expression: expression.into(),
        message: "contains a NUL byte".into(),
    })?;
    let mut errbuf = [0 as c_char; ERRBUF_SIZE];
    // SAFETY: `device` is a C string and `errbuf` has PCAP_ERRBUF_SIZE bytes.
    let handle = unsafe { create(device.as_ptr(), errbuf.as_mut_ptr()) };
    if handle.is_null() {
        // SAFETY: libpcap wrote a NUL-terminated message into errbuf.
        return Err(open_error(
            unsafe { CStr::from_ptr(errbuf.as_ptr()) }
                .to_string_lossy()
                .into(),
        ));
    }
    let message = |handle| {
        // SAFETY: pcap_geterr returns the handle's NUL-terminated message buffer.
        unsafe { CStr::from_ptr(get_error(handle)) }
            .to_string_lossy()
            .into_owned()
    };
    let result = (|| {
        // SAFETY: `handle` is a live pcap_t from pcap_create.
        unsafe {
            set_snaplen(handle, c_int::try_from(snaplen).unwrap_or(c_int::MAX));
            // The handle only compiles: keep its own ring small.
            set_buffer_size(handle, 64 << 10);
            if activate(handle) < 0 {
                return Err(open_error(message(handle)));
            }
        }
        let mut program = BpfProgram {
            len: 0,
            instructions: std::ptr::null(),
        };
        // SAFETY: `program` is written by pcap_compile; the expression is a C string.
        if unsafe { compile(handle, &mut program, text.as_ptr(), 1, NETMASK_UNKNOWN) } < 0 {
            return Err(FilterError::Syntax {
                expression: expression.into(),
                message: message(handle),
            });
        }
        // SAFETY: pcap_compile succeeded: `instructions` holds `len` instructions until
        // pcap_freecode.
        let instructions =
            unsafe { std::slice::from_raw_parts(program.instructions, program.len as usize) }
                .to_vec();
        // SAFETY: freeing the program pcap_compile made.
        unsafe { free_code(&mut program) };
        Ok(instructions)
    })();
    // SAFETY: closing the handle made above, once.
    unsafe { close(handle) };
    result
}
