//! virtio-net (ID 1) without a backend: it probes with a MAC address (VIRTIO_NET_F_MAC) and
//! a link status (VIRTIO_NET_F_STATUS, link down unless configured up), has a receive and
//! a transmit queue, and drops transmitted frames (counted) as a NIC with no cable would.
//! Receive buffers stay posted until a backend exists. A user-mode network or tap backend
//! is a later step.

use super::{DEVICE_ID_NET, Queue, QueueError, VirtioDevice, copy_config};
use crate::bus::DmaMemory;

pub const F_MAC: u64 = 1 << 5;
pub const F_STATUS: u64 = 1 << 16;
pub const S_LINK_UP: u16 = 1;
/// Size of the virtio_net_hdr the driver prepends to each frame (VERSION_1).
pub const HDR_LEN: u64 = 12;

pub struct VirtioNet {
    mac: [u8; 6],
    link_up: bool,
    tx_dropped: u64,
}

impl VirtioNet {
    pub fn new(mac: [u8; 6], link_up: bool) -> VirtioNet {
        VirtioNet {
            mac,
            link_up,
            tx_dropped: 0,
        }
    }
    /// Frames the guest sent that went nowhere.
    pub fn tx_dropped(&self) -> u64 {
        self.tx_dropped
    }
}

impl VirtioDevice for VirtioNet {
    fn device_id(&self) -> u32 {
        DEVICE_ID_NET
    }
    fn features(&self) -> u64 {
        F_MAC | F_STATUS
    }
    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![256, 256]
    }
    fn read_config(&self, offset: u64, buf: &mut [u8]) {
        let mut cfg = [0u8; 8];
        cfg[..6].copy_from_slice(&self.mac);
        cfg[6..8].copy_from_slice(&u16::from(self.link_up).to_le_bytes());
        copy_config(&cfg, offset, buf);
    }
    fn process(
        &mut self,
        index: usize,
        q: &mut Queue,
        mem: &dyn DmaMemory,
    ) -> Result<bool, QueueError> {
        if index != 1 {
            return Ok(false); // receive buffers wait for a backend
        }
        let mut any = false;
        while let Some(chain) = q.pop(mem)? {
            if chain.readable_len() < HDR_LEN {
                return Err(QueueError::BadRequest(
                    "transmit buffer shorter than virtio_net_hdr",
                ));
            }
            self.tx_dropped += 1;
            q.push_used(mem, chain.head, 0)?;
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
    fn probes_and_drops_tx() {
        let mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let mut d = Driver::new(Box::new(VirtioNet::new(mac, false)));
        assert_eq!(d.r(8), DEVICE_ID_NET);
        d.init(F_VERSION_1 | F_MAC | F_STATUS);
        let got: Vec<u8> = (0..6).map(|i| d.config(i, 1) as u8).collect();
        assert_eq!(got, mac);
        assert_eq!(d.config(6, 2), 0, "link down");
        d.post(0, &[(BUF_BASE, 1526, true)]);
        d.notify(0);
        assert_eq!(d.used(0), None);
        let h = d.post(
            1,
            &[
                (BUF_BASE + 0x1000, 12, false),
                (BUF_BASE + 0x1100, 60, false),
            ],
        );
        d.notify(1);
        assert_eq!(d.used(1), Some((h.into(), 0)));
        let up = Driver::new(Box::new(VirtioNet::new(mac, true)));
        assert_eq!(up.config(6, 2), u64::from(S_LINK_UP));
    }
}
