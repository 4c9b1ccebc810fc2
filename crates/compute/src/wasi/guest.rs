//! Reading and writing the guest's memory, and the small pieces of WASI calls built on it.

use wasmi::{Caller, Error, Extern};

use super::{Dir, FIXED_TIME, Handle, MAX_PATH, World, errno};

pub(super) type C<'a> = Caller<'a, World>;

pub(super) fn memory(c: &C<'_>) -> Result<wasmi::Memory, Error> {
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Error::new("the module exports no memory")),
    }
}

pub(super) fn range(len: usize, ptr: i32, n: usize) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(n)?;
    (end <= len).then_some(start..end)
}

pub(super) fn read_bytes(c: &C<'_>, ptr: i32, n: usize) -> Result<Option<Vec<u8>>, Error> {
    let m = memory(c)?;
    let data = m.data(c);
    Ok(range(data.len(), ptr, n).map(|r| data[r].to_vec()))
}

pub(super) fn write_bytes(c: &mut C<'_>, ptr: i32, bytes: &[u8]) -> Result<bool, Error> {
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

pub(super) fn put_u32(c: &mut C<'_>, ptr: i32, v: u32) -> Result<bool, Error> {
    write_bytes(c, ptr, &v.to_le_bytes())
}

pub(super) fn put_u64(c: &mut C<'_>, ptr: i32, v: u64) -> Result<bool, Error> {
    write_bytes(c, ptr, &v.to_le_bytes())
}

/// The (pointer, length) pairs of an iovec array.
pub(super) fn iovecs(c: &C<'_>, ptr: i32, n: i32) -> Result<Option<Vec<(i32, usize)>>, Error> {
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
pub(super) fn burn(c: &mut C<'_>, bytes: usize) -> Result<(), Error> {
    let cost = (bytes as u64) / 8 + 1;
    let left = c.get_fuel()?;
    if left < cost {
        c.set_fuel(0)?;
        return Err(Error::from(wasmi::TrapCode::OutOfFuel));
    }
    c.set_fuel(left - cost)
}

pub(super) fn strings_sizes(
    c: &mut C<'_>,
    list: &[String],
    count: i32,
    size: i32,
) -> Result<i32, Error> {
    let total: usize = list.iter().map(|s| s.len() + 1).sum();
    let ok = put_u32(c, count, list.len() as u32)? && put_u32(c, size, total as u32)?;
    Ok(if ok { errno::SUCCESS } else { errno::FAULT })
}

pub(super) fn strings_get(
    c: &mut C<'_>,
    list: &[String],
    ptrs: i32,
    buf: i32,
) -> Result<i32, Error> {
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

pub(super) fn path(c: &C<'_>, ptr: i32, len: i32) -> Result<Option<String>, Error> {
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

pub(super) fn dir_of(w: &World, fd: i32) -> Option<Dir> {
    match w.handles.get(&fd) {
        Some(Handle::Dir(d)) => Some(*d),
        _ => None,
    }
}

pub(super) fn filestat(c: &mut C<'_>, ptr: i32, filetype: u8, size: u64) -> Result<i32, Error> {
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
