//! A WASI preview 1 host with nothing real behind it: the task's inputs read-only under `/in`,
//! an empty writable `/out` whose files become the task's outputs, stdout and stderr kept in
//! memory, the job's arguments, no environment, a fixed clock and fixed "random" bytes. Every
//! replica of a task sees exactly the same world, so equal programs give equal results.
//!
//! Written here rather than taken from `wasmi_wasi`: that crate maps WASI onto the host's real
//! filesystem, clocks and entropy (through `wasi-common` and `cap-std`), which is what a
//! deterministic, verifiable run must not see.

use std::collections::BTreeMap;

use wasmi::{Error, Linker};

mod files;
mod guest;

use files::{fd_read, fd_readdir, fd_seek, fd_write, path_open};
use guest::*;

/// WASI errno values used here.
mod errno {
    pub const SUCCESS: i32 = 0;
    pub const BADF: i32 = 8;
    pub const EXIST: i32 = 20;
    pub const FBIG: i32 = 22;
    pub const INVAL: i32 = 28;
    pub const ISDIR: i32 = 31;
    pub const NOENT: i32 = 44;
    pub const NOSYS: i32 = 52;
    pub const NOTDIR: i32 = 54;
    pub const NOTEMPTY: i32 = 55;
    pub const ROFS: i32 = 69;
    pub const MFILE: i32 = 33;
    pub const FAULT: i32 = 21;
}

/// The most files a run may write under `/out` (what a result on chain may name).
pub const MAX_OUTPUTS: usize = 64;
/// The most descriptors open at once, iovecs in one call, and bytes in a path.
const MAX_HANDLES: usize = 1024;
const MAX_IOVECS: i32 = 1024;
const MAX_PATH: usize = 4096;

const FILETYPE_CHAR: u8 = 2;
const FILETYPE_DIR: u8 = 3;
const FILETYPE_FILE: u8 = 4;
const IN_FD: i32 = 3;
const OUT_FD: i32 = 4;
/// The fixed time every clock reads: 2026-01-01T00:00:00Z in nanoseconds.
const FIXED_TIME: u64 = 1_767_225_600_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    In,
    Out,
}

#[derive(Clone, Debug)]
enum Handle {
    Dir(Dir),
    File { dir: Dir, name: String, pos: u64 },
}

/// What a run may read and what it wrote.
#[derive(Debug)]
pub struct World {
    pub args: Vec<String>,
    pub inputs: BTreeMap<String, Vec<u8>>,
    pub outputs: BTreeMap<String, Vec<u8>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes `/out` and the two streams may hold in all.
    pub max_output: u64,
    written: u64,
    handles: BTreeMap<i32, Handle>,
    next_fd: i32,
    random: u64,
    pub(crate) limits: wasmi::StoreLimits,
}

impl World {
    pub fn new(
        args: Vec<String>,
        inputs: BTreeMap<String, Vec<u8>>,
        max_output: u64,
        max_memory: usize,
    ) -> Self {
        let mut handles = BTreeMap::new();
        handles.insert(IN_FD, Handle::Dir(Dir::In));
        handles.insert(OUT_FD, Handle::Dir(Dir::Out));
        World {
            args,
            inputs,
            outputs: BTreeMap::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            max_output,
            written: 0,
            handles,
            next_fd: 5,
            random: 0x6d65_7461_6d65_7368,
            limits: wasmi::StoreLimitsBuilder::new()
                .memory_size(max_memory)
                .memories(1)
                .instances(1)
                .tables(4)
                .table_elements(1 << 20)
                .build(),
        }
    }

    fn file(&self, dir: Dir, name: &str) -> Option<&Vec<u8>> {
        match dir {
            Dir::In => self.inputs.get(name),
            Dir::Out => self.outputs.get(name),
        }
    }

    fn charge_output(&mut self, n: usize) -> bool {
        let total = self.written.saturating_add(n as u64);
        if total > self.max_output {
            return false;
        }
        self.written = total;
        true
    }

    /// SplitMix64: fixed "random" bytes.
    fn next_random(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Links every WASI preview 1 function a C program built with wasi-libc may import.
pub fn link(linker: &mut Linker<World>) -> Result<(), Error> {
    const M: &str = "wasi_snapshot_preview1";
    linker.func_wrap(M, "args_sizes_get", |mut c: C<'_>, n: i32, size: i32| {
        let args = c.data().args.clone();
        strings_sizes(&mut c, &args, n, size)
    })?;
    linker.func_wrap(M, "args_get", |mut c: C<'_>, ptrs: i32, buf: i32| {
        let args = c.data().args.clone();
        strings_get(&mut c, &args, ptrs, buf)
    })?;
    linker.func_wrap(M, "environ_sizes_get", |mut c: C<'_>, n: i32, size: i32| {
        strings_sizes(&mut c, &[], n, size)
    })?;
    linker.func_wrap(M, "environ_get", |_: C<'_>, _: i32, _: i32| {
        Ok(errno::SUCCESS)
    })?;
    linker.func_wrap(
        M,
        "clock_time_get",
        |mut c: C<'_>, _id: i32, _precision: i64, out: i32| {
            Ok(if put_u64(&mut c, out, FIXED_TIME)? {
                errno::SUCCESS
            } else {
                errno::FAULT
            })
        },
    )?;
    linker.func_wrap(M, "clock_res_get", |mut c: C<'_>, _id: i32, out: i32| {
        Ok(if put_u64(&mut c, out, 1_000)? {
            errno::SUCCESS
        } else {
            errno::FAULT
        })
    })?;
    linker.func_wrap(M, "random_get", |mut c: C<'_>, buf: i32, len: i32| {
        let n = len as u32 as usize;
        let size = memory(&c)?.data(&c).len();
        if range(size, buf, n).is_none() {
            return Ok(errno::FAULT);
        }
        burn(&mut c, n)?;
        let mut bytes = Vec::with_capacity(n + 8);
        while bytes.len() < n {
            let v = c.data_mut().next_random();
            bytes.extend(v.to_le_bytes());
        }
        bytes.truncate(n);
        Ok(if write_bytes(&mut c, buf, &bytes)? {
            errno::SUCCESS
        } else {
            errno::FAULT
        })
    })?;
    linker.func_wrap(M, "proc_exit", |_: C<'_>, code: i32| -> Result<(), Error> {
        Err(Error::i32_exit(code))
    })?;
    linker.func_wrap(M, "sched_yield", |_: C<'_>| Ok(errno::SUCCESS))?;
    linker.func_wrap(
        M,
        "fd_write",
        |mut c: C<'_>, a: i32, b: i32, n: i32, d: i32| fd_write(&mut c, a, b, n, d),
    )?;
    linker.func_wrap(
        M,
        "fd_read",
        |mut c: C<'_>, a: i32, b: i32, n: i32, d: i32| fd_read(&mut c, a, b, n, d),
    )?;
    linker.func_wrap(
        M,
        "fd_seek",
        |mut c: C<'_>, fd: i32, o: i64, w: i32, out: i32| fd_seek(&mut c, fd, o, w, out),
    )?;
    linker.func_wrap(M, "fd_tell", |mut c: C<'_>, fd: i32, out: i32| {
        fd_seek(&mut c, fd, 0, 1, out)
    })?;
    linker.func_wrap(M, "fd_close", |mut c: C<'_>, fd: i32| {
        Ok(match c.data_mut().handles.remove(&fd) {
            Some(_) if fd > OUT_FD => errno::SUCCESS,
            Some(h) => {
                c.data_mut().handles.insert(fd, h);
                errno::BADF
            }
            None => errno::BADF,
        })
    })?;
    linker.func_wrap(M, "fd_fdstat_get", |mut c: C<'_>, fd: i32, out: i32| {
        let filetype = match (fd, c.data().handles.get(&fd)) {
            (0..=2, _) => FILETYPE_CHAR,
            (_, Some(Handle::Dir(_))) => FILETYPE_DIR,
            (_, Some(Handle::File { .. })) => FILETYPE_FILE,
            (_, None) => return Ok(errno::BADF),
        };
        let mut b = [0u8; 24];
        b[0] = filetype;
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        Ok(if write_bytes(&mut c, out, &b)? {
            errno::SUCCESS
        } else {
            errno::FAULT
        })
    })?;
    linker.func_wrap(M, "fd_fdstat_set_flags", |_: C<'_>, _: i32, _: i32| {
        Ok(errno::SUCCESS)
    })?;
    linker.func_wrap(M, "fd_prestat_get", |mut c: C<'_>, fd: i32, out: i32| {
        if fd != IN_FD && fd != OUT_FD {
            return Ok(errno::BADF);
        }
        let mut b = [0u8; 8];
        let len: u32 = if fd == IN_FD { 3 } else { 4 };
        b[4..].copy_from_slice(&len.to_le_bytes());
        Ok(if write_bytes(&mut c, out, &b)? {
            errno::SUCCESS
        } else {
            errno::FAULT
        })
    })?;
    linker.func_wrap(
        M,
        "fd_prestat_dir_name",
        |mut c: C<'_>, fd: i32, buf: i32, len: i32| {
            let name: &[u8] = match fd {
                IN_FD => b"/in",
                OUT_FD => b"/out",
                _ => return Ok(errno::BADF),
            };
            let n = (len as u32 as usize).min(name.len());
            Ok(if write_bytes(&mut c, buf, &name[..n])? {
                errno::SUCCESS
            } else {
                errno::FAULT
            })
        },
    )?;
    linker.func_wrap(M, "fd_filestat_get", |mut c: C<'_>, fd: i32, out: i32| {
        let (ty, size) = match c.data().handles.get(&fd).cloned() {
            Some(Handle::File { dir, name, .. }) => (
                FILETYPE_FILE,
                c.data().file(dir, &name).map_or(0, Vec::len) as u64,
            ),
            Some(Handle::Dir(_)) => (FILETYPE_DIR, 0),
            None if (0..=2).contains(&fd) => (FILETYPE_CHAR, 0),
            None => return Ok(errno::BADF),
        };
        filestat(&mut c, out, ty, size)
    })?;
    linker.func_wrap(
        M,
        "path_filestat_get",
        |mut c: C<'_>, fd: i32, _flags: i32, p: i32, l: i32, out: i32| {
            let Some(dir) = dir_of(c.data(), fd) else {
                return Ok(errno::NOTDIR);
            };
            let Some(name) = path(&c, p, l)? else {
                return Ok(errno::FAULT);
            };
            if name.is_empty() || name == "." {
                return filestat(&mut c, out, FILETYPE_DIR, 0);
            }
            match c.data().file(dir, &name).map(Vec::len) {
                Some(size) => filestat(&mut c, out, FILETYPE_FILE, size as u64),
                None => Ok(errno::NOENT),
            }
        },
    )?;
    linker.func_wrap(
        M,
        "path_open",
        |mut c: C<'_>,
         fd: i32,
         _dirflags: i32,
         p: i32,
         l: i32,
         oflags: i32,
         _rb: i64,
         _ri: i64,
         _fdflags: i32,
         out: i32| { path_open(&mut c, fd, p, l, oflags, out) },
    )?;
    linker.func_wrap(
        M,
        "fd_readdir",
        |mut c: C<'_>, fd: i32, b: i32, l: i32, k: i64, u: i32| fd_readdir(&mut c, fd, b, l, k, u),
    )?;
    linker.func_wrap(
        M,
        "path_unlink_file",
        |mut c: C<'_>, fd: i32, p: i32, l: i32| {
            let Some(name) = path(&c, p, l)? else {
                return Ok(errno::FAULT);
            };
            Ok(match dir_of(c.data(), fd) {
                Some(Dir::Out) => {
                    if c.data_mut().outputs.remove(&name).is_some() {
                        errno::SUCCESS
                    } else {
                        errno::NOENT
                    }
                }
                Some(Dir::In) => errno::ROFS,
                None => errno::NOTDIR,
            })
        },
    )?;
    for name in ["path_create_directory", "path_remove_directory"] {
        linker.func_wrap(M, name, |_: C<'_>, _: i32, _: i32, _: i32| {
            Ok(errno::NOTEMPTY)
        })?;
    }
    linker.func_wrap(M, "fd_sync", |_: C<'_>, _: i32| Ok(errno::SUCCESS))?;
    linker.func_wrap(M, "fd_datasync", |_: C<'_>, _: i32| Ok(errno::SUCCESS))?;
    linker.func_wrap(
        M,
        "fd_advise",
        |_: C<'_>, _: i32, _: i64, _: i64, _: i32| Ok(errno::SUCCESS),
    )?;
    linker.func_wrap(
        M,
        "poll_oneoff",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32| Ok(errno::NOSYS),
    )?;
    linker.func_wrap(
        M,
        "path_rename",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| Ok(errno::NOSYS),
    )?;
    linker.func_wrap(
        M,
        "path_readlink",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| Ok(errno::NOENT),
    )?;
    linker.func_wrap(M, "fd_filestat_set_size", |_: C<'_>, _: i32, _: i64| {
        Ok(errno::NOSYS)
    })?;
    linker.func_wrap(
        M,
        "fd_pread",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i64, _: i32| Ok(errno::NOSYS),
    )?;
    linker.func_wrap(
        M,
        "fd_pwrite",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i64, _: i32| Ok(errno::NOSYS),
    )?;
    linker.func_wrap(M, "fd_renumber", |_: C<'_>, _: i32, _: i32| {
        Ok(errno::NOSYS)
    })?;
    Ok(())
}
