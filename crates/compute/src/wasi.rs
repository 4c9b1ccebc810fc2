//! A WASI preview 1 host with nothing real behind it: the task's inputs read-only under `/in`,
//! an empty writable `/out` whose files become the task's outputs, stdout and stderr kept in
//! memory, the job's arguments, no environment, a fixed clock and fixed "random" bytes. Every
//! replica of a task sees exactly the same world, so equal programs give equal results.
//!
//! Written here rather than taken from `wasmi_wasi`: that crate maps WASI onto the host's real
//! filesystem, clocks and entropy (through `wasi-common` and `cap-std`), which is what a
//! deterministic, verifiable run must not see.

use std::collections::BTreeMap;

use wasmi::{Caller, Error, Extern, Linker};

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

type C<'a> = Caller<'a, World>;

fn memory(c: &C<'_>) -> Result<wasmi::Memory, Error> {
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Error::new("the module exports no memory")),
    }
}

fn range(len: usize, ptr: i32, n: usize) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(n)?;
    (end <= len).then_some(start..end)
}

fn read_bytes(c: &C<'_>, ptr: i32, n: usize) -> Result<Option<Vec<u8>>, Error> {
    let m = memory(c)?;
    let data = m.data(c);
    Ok(range(data.len(), ptr, n).map(|r| data[r].to_vec()))
}

fn write_bytes(c: &mut C<'_>, ptr: i32, bytes: &[u8]) -> Result<bool, Error> {
    let m = memory(c)?;
    let data = m.data_mut(c);
    match range(data.len(), ptr, bytes.len()) {
        Some(r) => {
            data[r].copy_from_slice(bytes);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn put_u32(c: &mut C<'_>, ptr: i32, v: u32) -> Result<bool, Error> {
    write_bytes(c, ptr, &v.to_le_bytes())
}

fn put_u64(c: &mut C<'_>, ptr: i32, v: u64) -> Result<bool, Error> {
    write_bytes(c, ptr, &v.to_le_bytes())
}

/// The (pointer, length) pairs of an iovec array.
fn iovecs(c: &C<'_>, ptr: i32, n: i32) -> Result<Option<Vec<(i32, usize)>>, Error> {
    let Some(raw) = read_bytes(c, ptr, (n as u32 as usize).saturating_mul(8))? else {
        return Ok(None);
    };
    Ok(Some(
        raw.chunks_exact(8)
            .map(|v| {
                let p = u32::from_le_bytes(v[..4].try_into().expect("4"));
                let l = u32::from_le_bytes(v[4..].try_into().expect("4"));
                (p as i32, l as usize)
            })
            .collect(),
    ))
}

/// Burns fuel for bytes the host moves, so I/O is not free work.
fn burn(c: &mut C<'_>, bytes: usize) -> Result<(), Error> {
    let cost = (bytes as u64) / 8 + 1;
    let left = c.get_fuel()?;
    if left < cost {
        c.set_fuel(0)?;
        return Err(Error::from(wasmi::TrapCode::OutOfFuel));
    }
    c.set_fuel(left - cost)
}

fn strings_sizes(c: &mut C<'_>, list: &[String], count: i32, size: i32) -> Result<i32, Error> {
    let total: usize = list.iter().map(|s| s.len() + 1).sum();
    let ok = put_u32(c, count, list.len() as u32)? && put_u32(c, size, total as u32)?;
    Ok(if ok { errno::SUCCESS } else { errno::FAULT })
}

fn strings_get(c: &mut C<'_>, list: &[String], ptrs: i32, buf: i32) -> Result<i32, Error> {
    let mut at = buf as u32;
    for (i, s) in list.iter().enumerate() {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        if !put_u32(c, ptrs.wrapping_add(4 * i as i32), at)? || !write_bytes(c, at as i32, &bytes)?
        {
            return Ok(errno::FAULT);
        }
        at = at.wrapping_add(bytes.len() as u32);
    }
    Ok(errno::SUCCESS)
}

fn path(c: &C<'_>, ptr: i32, len: i32) -> Result<Option<String>, Error> {
    if len as u32 as usize > MAX_PATH {
        return Ok(None);
    }
    let Some(raw) = read_bytes(c, ptr, len as u32 as usize)? else {
        return Ok(None);
    };
    Ok(String::from_utf8(raw)
        .ok()
        .map(|s| s.trim_start_matches("./").to_owned()))
}

fn dir_of(w: &World, fd: i32) -> Option<Dir> {
    match w.handles.get(&fd) {
        Some(Handle::Dir(d)) => Some(*d),
        _ => None,
    }
}

fn filestat(c: &mut C<'_>, ptr: i32, filetype: u8, size: u64) -> Result<i32, Error> {
    let mut b = [0u8; 64];
    b[16] = filetype;
    b[24..32].copy_from_slice(&1u64.to_le_bytes());
    b[32..40].copy_from_slice(&size.to_le_bytes());
    for off in [40, 48, 56] {
        b[off..off + 8].copy_from_slice(&FIXED_TIME.to_le_bytes());
    }
    Ok(if write_bytes(c, ptr, &b)? {
        errno::SUCCESS
    } else {
        errno::FAULT
    })
}

fn fd_write(c: &mut C<'_>, fd: i32, iovs: i32, n: i32, nwritten: i32) -> Result<i32, Error> {
    if !(0..=MAX_IOVECS).contains(&n) {
        return Ok(errno::INVAL);
    }
    let Some(vecs) = iovecs(c, iovs, n)? else {
        return Ok(errno::FAULT);
    };
    // Nothing is copied that the run could not keep: its output budget bounds the bytes.
    let total = vecs
        .iter()
        .try_fold(0u64, |t, (_, l)| t.checked_add(*l as u64));
    let w = c.data();
    if total.is_none_or(|t| w.written.saturating_add(t) > w.max_output) {
        return Ok(errno::FBIG);
    }
    let mut data = Vec::new();
    for (p, l) in vecs {
        match read_bytes(c, p, l)? {
            Some(b) => data.extend(b),
            None => return Ok(errno::FAULT),
        }
    }
    burn(c, data.len())?;
    let w = c.data_mut();
    let handle = w.handles.get(&fd).cloned();
    let code = match (fd, handle) {
        (1 | 2, _) => {
            if !w.charge_output(data.len()) {
                return Ok(errno::FBIG);
            }
            if fd == 1 {
                &mut w.stdout
            } else {
                &mut w.stderr
            }
            .extend(&data);
            errno::SUCCESS
        }
        (
            _,
            Some(Handle::File {
                dir: Dir::Out,
                name,
                pos,
            }),
        ) => {
            // An unlinked file is gone: its descriptor writes nowhere.
            let Some(file_len) = w.outputs.get(&name).map(|f| f.len() as u64) else {
                return Ok(errno::BADF);
            };
            let end = pos.saturating_add(data.len() as u64);
            if !w.charge_output(end.saturating_sub(file_len) as usize) {
                return Ok(errno::FBIG);
            }
            let f = w.outputs.entry(name.clone()).or_default();
            if f.len() < end as usize {
                f.resize(end as usize, 0);
            }
            f[pos as usize..end as usize].copy_from_slice(&data);
            w.handles.insert(
                fd,
                Handle::File {
                    dir: Dir::Out,
                    name,
                    pos: end,
                },
            );
            errno::SUCCESS
        }
        (_, Some(Handle::File { dir: Dir::In, .. })) => errno::ROFS,
        (_, Some(Handle::Dir(_))) => errno::ISDIR,
        (_, None) => errno::BADF,
    };
    if code == errno::SUCCESS && !put_u32(c, nwritten, data.len() as u32)? {
        return Ok(errno::FAULT);
    }
    Ok(code)
}

fn fd_read(c: &mut C<'_>, fd: i32, iovs: i32, n: i32, nread: i32) -> Result<i32, Error> {
    if !(0..=MAX_IOVECS).contains(&n) {
        return Ok(errno::INVAL);
    }
    let Some(vecs) = iovecs(c, iovs, n)? else {
        return Ok(errno::FAULT);
    };
    let (dir, name, mut pos) = match (fd, c.data().handles.get(&fd).cloned()) {
        (0, _) => {
            return Ok(if put_u32(c, nread, 0)? {
                errno::SUCCESS
            } else {
                errno::FAULT
            });
        }
        (_, Some(Handle::File { dir, name, pos })) => (dir, name, pos),
        (_, Some(Handle::Dir(_))) => return Ok(errno::ISDIR),
        (_, None) => return Ok(errno::BADF),
    };
    let mut total = 0usize;
    for (p, l) in vecs {
        let chunk: Vec<u8> = {
            let file = c.data().file(dir, &name).map_or(&[][..], |f| f.as_slice());
            let start = (pos as usize).min(file.len());
            file[start..(start + l).min(file.len())].to_vec()
        };
        if chunk.is_empty() {
            break;
        }
        if !write_bytes(c, p, &chunk)? {
            return Ok(errno::FAULT);
        }
        pos += chunk.len() as u64;
        total += chunk.len();
        if chunk.len() < l {
            break;
        }
    }
    burn(c, total)?;
    c.data_mut()
        .handles
        .insert(fd, Handle::File { dir, name, pos });
    Ok(if put_u32(c, nread, total as u32)? {
        errno::SUCCESS
    } else {
        errno::FAULT
    })
}

fn fd_seek(c: &mut C<'_>, fd: i32, offset: i64, whence: i32, newoffset: i32) -> Result<i32, Error> {
    let Some(Handle::File { dir, name, pos }) = c.data().handles.get(&fd).cloned() else {
        return Ok(if fd <= 2 { 70 } else { errno::BADF });
    };
    let len = c.data().file(dir, &name).map_or(0, Vec::len) as i64;
    let base = match whence {
        0 => 0,
        1 => pos as i64,
        2 => len,
        _ => return Ok(errno::INVAL),
    };
    let Some(new) = base.checked_add(offset).filter(|n| *n >= 0) else {
        return Ok(errno::INVAL);
    };
    c.data_mut().handles.insert(
        fd,
        Handle::File {
            dir,
            name,
            pos: new as u64,
        },
    );
    Ok(if put_u64(c, newoffset, new as u64)? {
        errno::SUCCESS
    } else {
        errno::FAULT
    })
}

#[allow(clippy::too_many_arguments)]
fn path_open(
    c: &mut C<'_>,
    fd: i32,
    path_ptr: i32,
    path_len: i32,
    oflags: i32,
    opened: i32,
) -> Result<i32, Error> {
    let Some(dir) = dir_of(c.data(), fd) else {
        return Ok(errno::NOTDIR);
    };
    let Some(name) = path(c, path_ptr, path_len)? else {
        return Ok(errno::FAULT);
    };
    let (creat, directory, excl, trunc) = (
        oflags & 1 != 0,
        oflags & 2 != 0,
        oflags & 4 != 0,
        oflags & 8 != 0,
    );
    let w = c.data_mut();
    if w.handles.len() >= MAX_HANDLES {
        return Ok(errno::MFILE);
    }
    let handle = if name.is_empty() || name == "." {
        Handle::Dir(dir)
    } else if name.contains('/') || name == ".." {
        return Ok(errno::NOENT);
    } else if directory {
        return Ok(errno::NOTDIR);
    } else {
        let exists = w.file(dir, &name).is_some();
        match dir {
            Dir::In if creat || trunc => return Ok(errno::ROFS),
            Dir::In | Dir::Out if !exists && !creat => return Ok(errno::NOENT),
            Dir::Out if exists && excl => return Ok(errno::EXIST),
            _ => {}
        }
        if dir == Dir::Out && (trunc || !exists) {
            if !exists && !metamesh_state::domains::compute::file_name_ok(&name) {
                return Ok(errno::INVAL);
            }
            if w.outputs.len() >= MAX_OUTPUTS && !exists {
                return Ok(errno::FBIG);
            }
            w.outputs.insert(name.clone(), Vec::new());
        }
        Handle::File { dir, name, pos: 0 }
    };
    let new = w.next_fd;
    w.next_fd += 1;
    w.handles.insert(new, handle);
    Ok(if put_u32(c, opened, new as u32)? {
        errno::SUCCESS
    } else {
        errno::FAULT
    })
}

fn fd_readdir(
    c: &mut C<'_>,
    fd: i32,
    buf: i32,
    len: i32,
    cookie: i64,
    used: i32,
) -> Result<i32, Error> {
    let Some(dir) = dir_of(c.data(), fd) else {
        return Ok(errno::NOTDIR);
    };
    let names: Vec<String> = match dir {
        Dir::In => c.data().inputs.keys().cloned().collect(),
        Dir::Out => c.data().outputs.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate().skip(cookie.max(0) as usize) {
        out.extend((i as u64 + 1).to_le_bytes());
        out.extend((i as u64 + 1).to_le_bytes());
        out.extend((name.len() as u32).to_le_bytes());
        out.extend([FILETYPE_FILE, 0, 0, 0]);
        out.extend(name.as_bytes());
    }
    out.truncate(len as u32 as usize);
    let n = out.len() as u32;
    Ok(if write_bytes(c, buf, &out)? && put_u32(c, used, n)? {
        errno::SUCCESS
    } else {
        errno::FAULT
    })
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
