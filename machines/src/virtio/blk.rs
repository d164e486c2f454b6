//! virtio-blk (ID 2) on a raw image file: read (IN), write (OUT), flush (fsync of the host
//! file) and get-id. `read_only` offers VIRTIO_BLK_F_RO and fails writes; `snapshot`
//! keeps written sectors in memory and never touches the file. Request errors (beyond the
//! end, misaligned length, host I/O error) answer IOERR/UNSUPP in the status byte; a chain
//! with no room for the status byte is a chain error (device needs reset).

use super::{DEVICE_ID_BLOCK, Queue, QueueError, VirtioDevice, copy_config};
use crate::bus::DmaMemory;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

pub const SECTOR: u64 = 512;
pub const F_SEG_MAX: u64 = 1 << 2;
pub const F_RO: u64 = 1 << 5;
pub const F_BLK_SIZE: u64 = 1 << 6;
pub const F_FLUSH: u64 = 1 << 9;

pub const T_IN: u32 = 0;
pub const T_OUT: u32 = 1;
pub const T_FLUSH: u32 = 4;
pub const T_GET_ID: u32 = 8;
pub const S_OK: u8 = 0;
pub const S_IOERR: u8 = 1;
pub const S_UNSUPP: u8 = 2;
pub const ID_LEN: usize = 20;

const QUEUE_SIZE: u16 = 256;

/// A raw disk image.
pub struct BlockBackend {
    file: File,
    size: u64,
    read_only: bool,
    /// snapshot=on: written sectors, by sector number. The file is never written.
    overlay: Option<HashMap<u64, Box<[u8]>>>,
}

impl BlockBackend {
    pub fn open(path: &Path, read_only: bool, snapshot: bool) -> std::io::Result<BlockBackend> {
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only && !snapshot)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(BlockBackend {
            file,
            size,
            read_only,
            overlay: snapshot.then(HashMap::new),
        })
    }
    pub fn sectors(&self) -> u64 {
        self.size / SECTOR
    }
    fn in_range(&self, sector: u64, len: u64) -> bool {
        sector
            .checked_mul(SECTOR)
            .and_then(|o| o.checked_add(len))
            .is_some_and(|end| end <= self.sectors() * SECTOR)
    }
    fn read(&self, sector: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.file.read_exact_at(buf, sector * SECTOR)?;
        if let Some(ov) = &self.overlay {
            for (i, chunk) in buf.chunks_mut(SECTOR as usize).enumerate() {
                if let Some(s) = ov.get(&(sector + i as u64)) {
                    chunk.copy_from_slice(&s[..chunk.len()]);
                }
            }
        }
        Ok(())
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> std::io::Result<()> {
        match &mut self.overlay {
            Some(ov) => {
                for (i, chunk) in data.chunks(SECTOR as usize).enumerate() {
                    ov.insert(sector + i as u64, chunk.into());
                }
                Ok(())
            }
            None => self.file.write_all_at(data, sector * SECTOR),
        }
    }
    fn flush(&self) -> std::io::Result<()> {
        if self.overlay.is_some() || self.read_only {
            Ok(())
        } else {
            self.file.sync_all()
        }
    }
}

pub struct VirtioBlk {
    disk: BlockBackend,
    id: [u8; ID_LEN],
}

impl VirtioBlk {
    /// `id` is what GET_ID returns (truncated to 20 bytes, e.g. the drive id).
    pub fn new(disk: BlockBackend, id: &str) -> VirtioBlk {
        let mut b = [0u8; ID_LEN];
        let n = id.len().min(ID_LEN);
        b[..n].copy_from_slice(&id.as_bytes()[..n]);
        VirtioBlk { disk, id: b }
    }

    fn config(&self) -> [u8; 24] {
        let mut c = [0u8; 24];
        c[0..8].copy_from_slice(&self.disk.sectors().to_le_bytes());
        c[12..16].copy_from_slice(&u32::from(QUEUE_SIZE - 2).to_le_bytes()); // seg_max
        c[20..24].copy_from_slice(&(SECTOR as u32).to_le_bytes()); // blk_size
        c
    }

    /// Executes one request; returns (status, bytes for the writable data area).
    fn execute(
        &mut self,
        ty: u32,
        sector: u64,
        data_in: &[u8],
        data_out_len: u64,
    ) -> (u8, Vec<u8>) {
        match ty {
            T_IN => {
                if !data_out_len.is_multiple_of(SECTOR) || !self.disk.in_range(sector, data_out_len)
                {
                    return (S_IOERR, vec![]);
                }
                let mut buf = vec![0; data_out_len as usize];
                match self.disk.read(sector, &mut buf) {
                    Ok(()) => (S_OK, buf),
                    Err(_) => (S_IOERR, vec![]),
                }
            }
            T_OUT => {
                let len = data_in.len() as u64;
                if self.disk.read_only
                    || !len.is_multiple_of(SECTOR)
                    || !self.disk.in_range(sector, len)
                {
                    return (S_IOERR, vec![]);
                }
                match self.disk.write(sector, data_in) {
                    Ok(()) => (S_OK, vec![]),
                    Err(_) => (S_IOERR, vec![]),
                }
            }
            T_FLUSH => match self.disk.flush() {
                Ok(()) => (S_OK, vec![]),
                Err(_) => (S_IOERR, vec![]),
            },
            T_GET_ID => {
                let n = (data_out_len as usize).min(ID_LEN);
                (S_OK, self.id[..n].to_vec())
            }
            _ => (S_UNSUPP, vec![]),
        }
    }
}

impl VirtioDevice for VirtioBlk {
    fn device_id(&self) -> u32 {
        DEVICE_ID_BLOCK
    }
    fn features(&self) -> u64 {
        F_SEG_MAX | F_BLK_SIZE | F_FLUSH | if self.disk.read_only { F_RO } else { 0 }
    }
    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }
    fn read_config(&self, offset: u64, buf: &mut [u8]) {
        copy_config(&self.config(), offset, buf);
    }
    fn process(
        &mut self,
        _index: usize,
        q: &mut Queue,
        mem: &dyn DmaMemory,
    ) -> Result<bool, QueueError> {
        let mut any = false;
        while let Some(chain) = q.pop(mem)? {
            let wlen = chain.writable_len();
            if wlen == 0 {
                return Err(QueueError::BadRequest("no status byte"));
            }
            let req = chain.read_all(mem)?;
            if req.len() < 16 {
                return Err(QueueError::BadRequest("header shorter than 16 bytes"));
            }
            let ty = u32::from_le_bytes([req[0], req[1], req[2], req[3]]);
            let mut s = [0u8; 8];
            s.copy_from_slice(&req[8..16]);
            let sector = u64::from_le_bytes(s);
            let (status, data) = self.execute(ty, sector, &req[16..], wlen - 1);
            let n = chain.write_at(mem, 0, &data)?;
            chain.write_at(mem, wlen - 1, &[status])?;
            q.push_used(mem, chain.head, (n + 1) as u32)?;
            any = true;
        }
        Ok(any)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdrv::*;
    use super::super::{F_VERSION_1, INT_USED_BUFFER};
    use super::*;

    fn image(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("heron-blk-{}-{name}.img", std::process::id()));
        let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, data).unwrap();
        p
    }

    const HDR: u64 = BUF_BASE;
    const DATA: u64 = BUF_BASE + 0x1000;
    const STATUS: u64 = BUF_BASE + 0x3000;

    fn request(
        d: &mut Driver,
        ty: u32,
        sector: u64,
        data_len: u32,
        device_writes: bool,
    ) -> (u32, u8) {
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&ty.to_le_bytes());
        h[8..].copy_from_slice(&sector.to_le_bytes());
        d.ram.write(HDR, &h).unwrap();
        d.ram.write(STATUS, &[0xff]).unwrap();
        let mut bufs = vec![(HDR, 16, false)];
        if data_len > 0 {
            bufs.push((DATA, data_len, device_writes));
        }
        bufs.push((STATUS, 1, true));
        let head = d.post(0, &bufs);
        d.notify(0);
        assert!(d.irq.get(1));
        assert_eq!(d.ack(), INT_USED_BUFFER);
        let (id, len) = d.used(0).unwrap();
        assert_eq!(id, u32::from(head));
        let mut s = [0];
        d.ram.read(STATUS, &mut s).unwrap();
        (len, s[0])
    }

    #[test]
    fn read_write_flush_get_id() {
        let path = image("rw");
        let disk = BlockBackend::open(&path, false, false).unwrap();
        let mut d = Driver::new(Box::new(VirtioBlk::new(disk, "hd0")));
        d.init(F_VERSION_1 | F_FLUSH | F_BLK_SIZE | F_SEG_MAX);
        assert_eq!(d.config(0, 8), 128);
        assert_eq!(d.config(0, 4), 128);
        assert_eq!(d.config(20, 4), 512);
        // Read sectors 2..4.
        assert_eq!(request(&mut d, T_IN, 2, 1024, true), (1025, S_OK));
        let mut got = vec![0u8; 1024];
        d.ram.read(DATA, &mut got).unwrap();
        let want: Vec<u8> = (1024..2048u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(got, want);
        // Write sector 5 and flush.
        d.ram.write(DATA, &[0xab; 512]).unwrap();
        assert_eq!(request(&mut d, T_OUT, 5, 512, false), (1, S_OK));
        assert_eq!(request(&mut d, T_FLUSH, 0, 0, false), (1, S_OK));
        let file = std::fs::read(&path).unwrap();
        assert!(file[5 * 512..6 * 512].iter().all(|&b| b == 0xab));
        assert_eq!(file[6 * 512], ((6 * 512) % 251) as u8);
        // GET_ID.
        assert_eq!(request(&mut d, T_GET_ID, 0, 20, true), (21, S_OK));
        let mut id = [0u8; 3];
        d.ram.read(DATA, &mut id).unwrap();
        assert_eq!(&id, b"hd0");
        // Past the end, odd length, unknown type.
        assert_eq!(request(&mut d, T_IN, 127, 1024, true).1, S_IOERR);
        assert_eq!(request(&mut d, T_IN, u64::MAX, 512, true).1, S_IOERR);
        assert_eq!(request(&mut d, T_OUT, 0, 100, false).1, S_IOERR);
        assert_eq!(request(&mut d, 99, 0, 0, false).1, S_UNSUPP);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn snapshot_keeps_file_untouched() {
        let path = image("snap");
        let before = std::fs::read(&path).unwrap();
        let disk = BlockBackend::open(&path, false, true).unwrap();
        let mut d = Driver::new(Box::new(VirtioBlk::new(disk, "hd0")));
        d.init(F_VERSION_1 | F_FLUSH);
        d.ram.write(DATA, &[0x5a; 1024]).unwrap();
        assert_eq!(request(&mut d, T_OUT, 3, 1024, false).1, S_OK);
        assert_eq!(request(&mut d, T_FLUSH, 0, 0, false).1, S_OK);
        d.ram.write(DATA, &[0; 2048]).unwrap();
        assert_eq!(request(&mut d, T_IN, 2, 2048, true), (2049, S_OK));
        let mut got = vec![0u8; 2048];
        d.ram.read(DATA, &mut got).unwrap();
        assert_eq!(got[0], ((2 * 512) % 251) as u8);
        assert!(got[512..1536].iter().all(|&b| b == 0x5a));
        assert_eq!(got[1536], ((5 * 512) % 251) as u8);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn read_only_and_bad_requests() {
        let path = image("ro");
        let disk = BlockBackend::open(&path, true, false).unwrap();
        let mut d = Driver::new(Box::new(VirtioBlk::new(disk, "x")));
        d.init(F_VERSION_1 | F_RO);
        assert_eq!(request(&mut d, T_OUT, 0, 512, false).1, S_IOERR);
        assert_eq!(request(&mut d, T_IN, 0, 512, true).1, S_OK);
        // No status byte: the device needs a reset, the host is fine.
        d.post(0, &[(HDR, 16, false)]);
        d.notify(0);
        assert_ne!(d.r(0x70) & super::super::STATUS_NEEDS_RESET, 0);
        std::fs::remove_file(&path).unwrap();
    }

    /// The shared guest disk (ext2, label GUESTDISK) read through the device; a write in
    /// snapshot mode leaves the read-only file as it was.
    #[test]
    fn shared_disk_image() {
        let path = std::path::Path::new("/work/shared/guests/disk.img");
        if !path.exists() {
            eprintln!("SKIPPED: {} not present", path.display());
            return;
        }
        let disk = BlockBackend::open(path, false, true).unwrap();
        let mut d = Driver::new(Box::new(VirtioBlk::new(disk, "hd0")));
        d.init(F_VERSION_1 | F_FLUSH);
        assert_eq!(d.config(0, 8), 16 * 1024 * 1024 / 512);
        assert_eq!(request(&mut d, T_IN, 2, 1024, true), (1025, S_OK));
        let mut sb = vec![0u8; 1024];
        d.ram.read(DATA, &mut sb).unwrap();
        assert_eq!(u16::from_le_bytes([sb[56], sb[57]]), 0xef53, "ext2 magic");
        assert_eq!(&sb[120..129], b"GUESTDISK");
        d.ram.write(DATA, &[0xee; 512]).unwrap();
        assert_eq!(request(&mut d, T_OUT, 2, 512, false).1, S_OK);
        assert_eq!(request(&mut d, T_IN, 2, 512, true).1, S_OK);
        let mut back = [0u8; 512];
        d.ram.read(DATA, &mut back).unwrap();
        assert_eq!(back, [0xee; 512]);
        let mut file_sb = [0u8; 2];
        std::fs::File::open(path)
            .unwrap()
            .read_exact_at(&mut file_sb, 1024 + 56)
            .unwrap();
        assert_eq!(file_sb, [0x53, 0xef]);
    }
}
