//! virtio-rng (entropy device, ID 4): one request queue; each device-writable buffer is
//! filled from the host's `getrandom`.

use super::{DEVICE_ID_RNG, Queue, QueueError, VirtioDevice};
use crate::bus::DmaMemory;

/// Bytes filled per request at most (the driver asks again for more).
const MAX_PER_REQUEST: usize = 64 * 1024;

#[derive(Default)]
pub struct VirtioRng;

impl VirtioRng {
    pub fn new() -> VirtioRng {
        VirtioRng
    }
}

/// Fills `buf` from the host kernel's entropy pool.
pub fn host_random(buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

impl VirtioDevice for VirtioRng {
    fn device_id(&self) -> u32 {
        DEVICE_ID_RNG
    }
    fn features(&self) -> u64 {
        0
    }
    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![256]
    }
    fn read_config(&self, _offset: u64, buf: &mut [u8]) {
        buf.fill(0);
    }
    fn process(
        &mut self,
        _index: usize,
        q: &mut Queue,
        mem: &dyn DmaMemory,
    ) -> Result<bool, QueueError> {
        let mut any = false;
        while let Some(chain) = q.pop(mem)? {
            let n = (chain.writable_len() as usize).min(MAX_PER_REQUEST);
            let mut data = vec![0; n];
            // Without host entropy we return nothing rather than predictable bytes.
            let written = match host_random(&mut data) {
                Ok(()) => chain.write_at(mem, 0, &data)?,
                Err(_) => 0,
            };
            q.push_used(mem, chain.head, written as u32)?;
            any = true;
        }
        Ok(any)
    }
}

#[cfg(test)]
mod tests {
    use super::super::F_VERSION_1;
    use super::super::testdrv::*;
    use super::*;

    #[test]
    fn fills_buffers_with_entropy() {
        let mut d = Driver::new(Box::new(VirtioRng::new()));
        d.init(F_VERSION_1);
        let h1 = d.post(0, &[(BUF_BASE, 64, true)]);
        let h2 = d.post(
            0,
            &[(BUF_BASE + 0x100, 16, true), (BUF_BASE + 0x200, 16, true)],
        );
        d.notify(0);
        assert_eq!(d.used(0), Some((h1.into(), 64)));
        assert_eq!(d.used(0), Some((h2.into(), 32)));
        assert_eq!(d.used(0), None);
        assert!(d.irq.get(1));
        let mut a = [0u8; 64];
        d.ram.read(BUF_BASE, &mut a).unwrap();
        assert!(a.iter().filter(|&&b| b == 0).count() < 16, "{a:?}");
        let mut b = [0u8; 16];
        d.ram.read(BUF_BASE + 0x200, &mut b).unwrap();
        assert_ne!(b, [0; 16]);
    }
}
