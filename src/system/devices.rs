//! The board-side glue of the network and console options: the virtio-net devices
//! (`-device virtio-net-device` with their MACs; without a network backend each links up
//! and drops what it sends) and the virtio-console of `-device virtconsole,chardev=ID`
//! writing to its `-chardev` (a file or nowhere). A chardev file is opened (and truncated,
//! unless `append=on`) once per heron process, so a guest reset keeps appending to it as
//! QEMU does.

use super::args::{ChardevBackend, DeviceArg, SystemConfig, nic_macs};
use heron_machines::riscv_virt::NicConfig;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The NICs to build, in command-line order.
pub fn nics(cfg: &SystemConfig) -> Vec<NicConfig> {
    nic_macs(cfg)
        .into_iter()
        .map(|mac| NicConfig { mac, link_up: true })
        .collect()
}

/// Chardev files opened so far (path, shared handle).
type OpenFiles = Vec<(PathBuf, Arc<Mutex<File>>)>;
static OPEN_FILES: Mutex<OpenFiles> = Mutex::new(Vec::new());

/// Writes to a chardev file shared across machine restarts.
struct SharedFile(Arc<Mutex<File>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

fn open_file(path: &PathBuf, append: bool) -> Result<SharedFile, String> {
    let mut open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, f)) = open.iter().find(|(p, _)| p == path) {
        return Ok(SharedFile(f.clone()));
    }
    let mut o = std::fs::OpenOptions::new();
    o.create(true);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    let f = o
        .open(path)
        .map_err(|e| format!("-chardev file: {}: {e}", path.display()))?;
    let f = Arc::new(Mutex::new(f));
    open.push((path.clone(), f.clone()));
    Ok(SharedFile(f))
}

/// The output of the virtio-console, if a virtconsole is configured.
pub fn virtio_console(cfg: &SystemConfig) -> Result<Option<Box<dyn Write + Send>>, String> {
    let Some(id) = cfg.devices.iter().find_map(|d| match d {
        DeviceArg::VirtConsole { chardev } => Some(chardev),
        _ => None,
    }) else {
        return Ok(None);
    };
    let Some(c) = cfg.chardevs.iter().find(|c| &c.id == id) else {
        return Err(format!("no -chardev with id={id}"));
    };
    Ok(Some(match &c.backend {
        ChardevBackend::Null => Box::new(std::io::sink()),
        ChardevBackend::File { path, append } => Box::new(open_file(path, *append)?),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::args::ChardevArg;
    use super::*;

    #[test]
    fn chardev_file_is_opened_once_and_shared() {
        let dir = std::env::temp_dir().join(format!("heron-chardev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hvc.txt");
        std::fs::write(&path, "old contents\n").unwrap();
        let cfg = SystemConfig {
            devices: vec![
                DeviceArg::VirtioSerial,
                DeviceArg::VirtConsole {
                    chardev: "c0".into(),
                },
                DeviceArg::VirtioNet {
                    netdev: None,
                    mac: None,
                },
            ],
            chardevs: vec![ChardevArg {
                id: "c0".into(),
                backend: ChardevBackend::File {
                    path: path.clone(),
                    append: false,
                },
            }],
            ..SystemConfig::default()
        };
        let mut a = virtio_console(&cfg).unwrap().unwrap();
        a.write_all(b"first ").unwrap();
        // A second machine (after a guest reset) continues the same file.
        let mut b = virtio_console(&cfg).unwrap().unwrap();
        b.write_all(b"second\n").unwrap();
        b.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first second\n");
        assert_eq!(
            nics(&cfg),
            [NicConfig {
                mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
                link_up: true
            }]
        );
        let none = SystemConfig::default();
        assert!(virtio_console(&none).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
