//! The file calls: reads and writes, seeks, opening under `/in` and `/out`, listing.

use wasmi::Error;

use super::{guest::*, *};

pub(super) fn fd_write(
    c: &mut C<'_>,
    fd: i32,
    iovs: i32,
    n: i32,
    nwritten: i32,
) -> Result<i32, Error> {
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

pub(super) fn fd_read(c: &mut C<'_>, fd: i32, iovs: i32, n: i32, nread: i32) -> Result<i32, Error> {
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

pub(super) fn fd_seek(
    c: &mut C<'_>,
    fd: i32,
    offset: i64,
    whence: i32,
    newoffset: i32,
) -> Result<i32, Error> {
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
pub(super) fn path_open(
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

pub(super) fn fd_readdir(
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
