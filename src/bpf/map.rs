//! BPF maps, and finding a loaded program's maps again by id: what a program needs to count
//! (a per-CPU array it increments without atomics) and what a later process needs to read the
//! counts back with no state file (filter -> program id -> its map ids -> the values).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
/// Update flag: only an entry that exists.
const BPF_EXIST: u64 = 2;
const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;

/// A BPF map (its file descriptor).
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    value_size: u32,
    /// For an array made here: its number of entries (keys 0..slots).
    slots: Option<u32>,
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The BPF_MAP_CREATE member of `union bpf_attr`, zero-padded past what is set.
#[repr(C, align(8))]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
    /// map_ifindex, btf_fd, btf type ids, map_extra, …: unused, zero. Sized so the struct has
    /// no padding: padding bytes are not guaranteed zero, and the kernel refuses (EINVAL) any
    /// non-zero byte in a field it knows but the caller did not mean to set.
    reserved: [u8; 44],
}

#[repr(C, align(8))]
struct MapElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C, align(8))]
struct GetByIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
    pad: u32,
}

#[repr(C, align(8))]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The head of `struct bpf_prog_info`, up to the map ids (all patchwire reads).
#[repr(C, align(8))]
#[derive(Default)]
struct ProgInfoHead {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
}

/// The head of `struct bpf_map_info`.
#[repr(C, align(8))]
#[derive(Default)]
struct MapInfoHead {
    map_type: u32,
    id: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

/// bpf(cmd, attr): a new fd, or the errno.
fn bpf<T>(cmd: libc::c_long, attr: &T) -> io::Result<i64> {
    // SAFETY: `attr` is a fully initialised attr struct for `cmd`, of the size passed; any
    // pointer in it refers to memory that outlives the call and is writable where the kernel
    // writes (lookup values, prog info).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_ref(attr),
            std::mem::size_of::<T>(),
        )
    };
    match rc {
        rc if rc >= 0 => Ok(rc),
        _ => Err(io::Error::last_os_error()),
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: bpf() returned a new file descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

impl Map {
    /// A per-CPU array of `entries` values of `value_size` bytes (u32 keys 0..entries).
    pub fn percpu_array(name: &str, value_size: u32, entries: u32) -> io::Result<Map> {
        Self::create(BPF_MAP_TYPE_PERCPU_ARRAY, name, value_size, entries)
    }

    /// A per-CPU hash of at most `entries` values of `value_size` bytes under u32 keys, all
    /// allocated up front (no allocation when a program or an update touches it).
    pub fn percpu_hash(name: &str, value_size: u32, entries: u32) -> io::Result<Map> {
        Self::create(BPF_MAP_TYPE_PERCPU_HASH, name, value_size, entries)
    }

    fn create(map_type: u32, name: &str, value_size: u32, entries: u32) -> io::Result<Map> {
        let mut map_name = [0u8; 16];
        let bytes = name.as_bytes();
        map_name[..bytes.len().min(15)].copy_from_slice(&bytes[..bytes.len().min(15)]);
        let attr = MapCreateAttr {
            map_type,
            key_size: 4,
            value_size,
            max_entries: entries,
            map_flags: 0,
            inner_map_fd: 0,
            numa_node: 0,
            map_name,
            reserved: [0; 44],
        };
        let fd = bpf(BPF_MAP_CREATE, &attr)?;
        Ok(Map {
            fd: owned(fd),
            value_size,
            slots: (map_type == BPF_MAP_TYPE_PERCPU_ARRAY).then_some(entries),
        })
    }

    /// A map some program uses, by its id; its value size as the kernel reports it.
    pub fn from_id(id: u32) -> io::Result<Map> {
        let attr = GetByIdAttr {
            id,
            next_id: 0,
            open_flags: 0,
            pad: 0,
        };
        let fd = owned(bpf(BPF_MAP_GET_FD_BY_ID, &attr)?);
        let mut info = MapInfoHead::default();
        let attr = InfoAttr {
            bpf_fd: fd.as_raw_fd() as u32,
            info_len: std::mem::size_of::<MapInfoHead>() as u32,
            info: std::ptr::from_mut(&mut info) as u64,
        };
        bpf(BPF_OBJ_GET_INFO_BY_FD, &attr)?;
        Ok(Map {
            fd,
            value_size: info.value_size,
            slots: None,
        })
    }

    /// The size of its values.
    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// A buffer for one entry of a per-CPU map (the kernel reads and writes one value per
    /// possible CPU, each padded to 8 bytes), and that stride.
    fn percpu_buffer(&self) -> io::Result<(Vec<u8>, usize)> {
        let stride = (self.value_size as usize).div_ceil(8) * 8;
        Ok((vec![0u8; stride * possible_cpus()?], stride))
    }

    /// The element request for `key` with `values` as the value buffer (mutable: a lookup
    /// has the kernel write into it).
    fn element(&self, key: &u32, values: &mut [u8]) -> MapElemAttr {
        MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            pad: 0,
            key: std::ptr::from_ref(key) as u64,
            value: values.as_mut_ptr() as u64,
            flags: 0,
        }
    }

    /// Entry `key` of a per-CPU map: one value per possible CPU.
    pub fn lookup_percpu(&self, key: u32) -> io::Result<Vec<Vec<u8>>> {
        let (mut values, stride) = self.percpu_buffer()?;
        bpf(BPF_MAP_LOOKUP_ELEM, &self.element(&key, &mut values))?;
        Ok(values
            .chunks(stride)
            .map(|c| c[..self.value_size as usize].to_vec())
            .collect())
    }

    /// Whether `key` can be stored (an array made here has keys 0..its size; a hash any key,
    /// until it is full).
    pub fn holds(&self, key: u32) -> bool {
        self.slots.is_none_or(|slots| key < slots)
    }

    /// Sets entry `key` to `value` on every CPU.
    pub fn update_all_cpus(&self, key: u32, value: &[u8]) -> io::Result<()> {
        let (mut values, stride) = self.percpu_buffer()?;
        for chunk in values.chunks_mut(stride) {
            chunk[..value.len()].copy_from_slice(value);
        }
        bpf(BPF_MAP_UPDATE_ELEM, &self.element(&key, &mut values)).map(|_| ())
    }

    /// Rewrites entry `key` in place on every CPU: `change` edits each CPU's value (read just
    /// before). Refuses (ENOENT) to create an entry that is not there (BPF_EXIST). Per-CPU
    /// values have no lock: a counter a program bumps between the read and the write loses
    /// that increment, so callers change only words the program reads, never writes.
    pub fn modify_all_cpus(&self, key: u32, change: impl Fn(&mut [u8])) -> io::Result<()> {
        let (mut values, stride) = self.percpu_buffer()?;
        bpf(BPF_MAP_LOOKUP_ELEM, &self.element(&key, &mut values))?;
        for chunk in values.chunks_mut(stride) {
            change(&mut chunk[..self.value_size as usize]);
        }
        let mut attr = self.element(&key, &mut values);
        attr.flags = BPF_EXIST;
        bpf(BPF_MAP_UPDATE_ELEM, &attr).map(|_| ())
    }

    /// The u64 counters of entry `key`, summed over all CPUs (a value of N u64s).
    pub fn sum_u64s(&self, key: u32) -> io::Result<Vec<u64>> {
        let mut sums = vec![0u64; self.value_size as usize / 8];
        for value in self.lookup_percpu(key)? {
            for (sum, word) in sums.iter_mut().zip(value.chunks_exact(8)) {
                *sum += u64::from_ne_bytes(word.try_into().expect("8 bytes"));
            }
        }
        Ok(sums)
    }
}

/// A loaded program, by its id (to attach it again, for an atomic filter replace).
pub fn prog_fd_by_id(prog_id: u32) -> io::Result<OwnedFd> {
    let attr = GetByIdAttr {
        id: prog_id,
        next_id: 0,
        open_flags: 0,
        pad: 0,
    };
    Ok(owned(bpf(BPF_PROG_GET_FD_BY_ID, &attr)?))
}

/// The maps a loaded program uses, by the program's id (as a cls_bpf filter dump gives it).
pub fn prog_map_ids(prog_id: u32) -> io::Result<Vec<u32>> {
    let prog = prog_fd_by_id(prog_id)?;
    let mut ids = [0u32; 8];
    let mut info = ProgInfoHead {
        nr_map_ids: ids.len() as u32,
        map_ids: ids.as_mut_ptr() as u64,
        ..ProgInfoHead::default()
    };
    let attr = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfoHead>() as u32,
        info: std::ptr::from_mut(&mut info) as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &attr)?;
    let count = (info.nr_map_ids as usize).min(ids.len());
    Ok(ids[..count].to_vec())
}

/// How many CPUs the kernel may ever bring up (the length of a per-CPU map's values). Read
/// once: it cannot change while the system runs, and an update per wire direction would
/// otherwise read sysfs each time.
fn possible_cpus() -> io::Result<usize> {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if let Some(cpus) = CPUS.get() {
        return Ok(*cpus);
    }
    let cpus = read_possible_cpus()?;
    Ok(*CPUS.get_or_init(|| cpus))
}

fn read_possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let mut count = 0;
    for range in text.trim().split(',') {
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        let parse = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| io::Error::other(format!("cpu list {text:?}")))
        };
        count += parse(hi)? - parse(lo)? + 1;
    }
    Ok(count)
}

#[cfg(test)]
// Creating maps needs bpf() privileges: those tests are in tests/bpf.rs.
mod tests {
    #[test]
    fn attr_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<super::MapCreateAttr>(), 88);
        assert_eq!(std::mem::offset_of!(super::MapCreateAttr, map_name), 28);
        assert_eq!(std::mem::offset_of!(super::ProgInfoHead, nr_map_ids), 52);
        assert_eq!(std::mem::offset_of!(super::ProgInfoHead, map_ids), 56);
    }
}
