//! The riscv64 `virt` board without CPUs: RAM at 0x8000_0000, CLINT, PLIC, ns16550a UART
//! (irq 10), test finisher at 0x10_0000, goldfish RTC (irq 11), eight virtio-mmio slots at
//! 0x1000_1000 + n*0x1000 (irq 1 + n), built from a [`VirtConfig`]; and the flattened
//! device tree generated from the devices that were actually instantiated.

use crate::bus::{Bus, BusError, DmaMemory, Ram};
use crate::clint::{self, Clint, ClintLine};
use crate::irq::IrqLine;
use crate::plic::{self, Plic};
use crate::power::{self, FINISHER_PASS, FINISHER_RESET, TestFinisher};
use crate::rtc::{self, GoldfishRtc};
use crate::uart::Uart;
use crate::virtio::blk::{BlockBackend, VirtioBlk};
use crate::virtio::console::{ConsoleInput, VirtioConsole};
use crate::virtio::net::VirtioNet;
use crate::virtio::rng::VirtioRng;
use crate::virtio::{self, VirtioDevice, VirtioMmio};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const TEST_BASE: u64 = 0x10_0000;
pub const RTC_BASE: u64 = 0x10_1000;
pub const CLINT_BASE: u64 = 0x200_0000;
pub const PLIC_BASE: u64 = 0xc00_0000;
pub const UART_BASE: u64 = 0x1000_0000;
pub const UART_SIZE: u64 = 0x100;
pub const VIRTIO_BASE: u64 = 0x1000_1000;
pub const VIRTIO_SLOTS: usize = 8;
pub const RAM_BASE: u64 = 0x8000_0000;
pub const UART_IRQ: u32 = 10;
pub const RTC_IRQ: u32 = 11;
pub const VIRTIO_IRQ_BASE: u32 = 1;
pub const UART_CLOCK_HZ: u32 = 3_686_400;
/// Bits of the RISC-V `mip` register that the board's devices drive.
pub const MIP_MSIP: u64 = 1 << 3;
pub const MIP_MTIP: u64 = 1 << 7;
pub const MIP_SEIP: u64 = 1 << 9;
pub const MIP_MEIP: u64 = 1 << 11;

/// One `-drive` attached as virtio-blk.
#[derive(Clone, Debug)]
pub struct DriveConfig {
    pub path: PathBuf,
    pub id: String,
    pub read_only: bool,
    pub snapshot: bool,
}

/// One virtio-net.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicConfig {
    pub mac: [u8; 6],
    /// Link status the device reports (VIRTIO_NET_S_LINK_UP).
    pub link_up: bool,
}

/// What to build.
pub struct VirtConfig {
    pub ram_size: u64,
    pub harts: usize,
    pub drives: Vec<DriveConfig>,
    pub rng: bool,
    /// A virtio-console, its output going to this sink.
    pub virtio_console: Option<Box<dyn Write + Send>>,
    /// virtio-net devices (no backend yet: what they send is dropped, nothing arrives).
    pub nics: Vec<NicConfig>,
    /// Where the UART's output goes.
    pub uart_out: Box<dyn Write + Send>,
}

/// Size in bytes of the cache block of the CMO extensions (Zicbom, Zicboz, Zicbop): the
/// frontend's `heron_riscv::privileged::CBO_BLOCK_SIZE`, which the hart implements.
pub const CBO_BLOCK_SIZE: u32 = 64;

/// The cpu-node property that gives [`CBO_BLOCK_SIZE`] for each CMO extension, written
/// when the ISA string lists the extension (Linux refuses Zicbom/Zicboz without it).
const CBO_BLOCK_SIZE_PROPS: [(&str, &str); 3] = [
    ("zicbom", "riscv,cbom-block-size"),
    ("zicboz", "riscv,cboz-block-size"),
    ("zicbop", "riscv,cbop-block-size"),
];

/// Splits an ISA string ("rv64imafdc_zicsr_sstc") into the device tree's newer form:
/// `riscv,isa-base` ("rv64i") and `riscv,isa-extensions` (one entry per single-letter
/// extension, then each multi-letter one). None if the string does not start with
/// "rv32i"/"rv64i" (then only `riscv,isa` is written).
pub fn isa_extensions(isa: &str) -> Option<(String, Vec<String>)> {
    let lower = isa.to_ascii_lowercase();
    let xlen = if lower.starts_with("rv64") {
        "rv64"
    } else if lower.starts_with("rv32") {
        "rv32"
    } else {
        return None;
    };
    let mut parts = lower[4..].split('_');
    let letters = parts.next()?;
    if !letters.starts_with('i') || !letters.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let mut exts: Vec<String> = letters.chars().map(String::from).collect();
    for p in parts {
        if p.is_empty() {
            return None;
        }
        exts.push(p.to_string());
    }
    Some((format!("{xlen}i"), exts))
}

/// Boot-time parameters of the device tree that the board does not own.
#[derive(Clone, Debug, Default)]
pub struct FdtOptions {
    /// e.g. "rv64imafdc_zicsr_zifencei" — exactly what the CPU implements.
    pub isa: String,
    /// e.g. "riscv,sv39".
    pub mmu_type: String,
    pub bootargs: String,
    /// Guest-physical [start, end) of the initrd.
    pub initrd: Option<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("drive {path}: {err}")]
    Drive { path: String, err: std::io::Error },
    #[error("too many virtio devices (at most {VIRTIO_SLOTS})")]
    TooManyVirtio,
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    #[error("device tree: {0}")]
    Fdt(String),
}

pub struct VirtBoard {
    pub bus: Bus,
    pub ram: Arc<Ram>,
    pub harts: usize,
    pub plic: Arc<Plic>,
    pub clint: Arc<Clint>,
    pub uart: Arc<Uart>,
    pub finisher: Arc<TestFinisher>,
    pub rtc: Arc<GoldfishRtc>,
    /// All eight slots; empty ones read device ID 0.
    pub virtio: Vec<Arc<VirtioMmio>>,
    /// The slot of the virtio-console and its input queue, if configured.
    pub console: Option<(usize, ConsoleInput)>,
}

impl VirtBoard {
    pub fn new(cfg: VirtConfig) -> Result<VirtBoard, BoardError> {
        Self::new_with_dma(cfg, |ram| ram)
    }

    /// Like [`VirtBoard::new`], with the DMA view of RAM that the virtio devices use
    /// chosen by `dma` (given the board's RAM): system mode wraps it so that device writes
    /// invalidate translated code.
    pub fn new_with_dma(
        cfg: VirtConfig,
        dma: impl FnOnce(Arc<Ram>) -> Arc<dyn DmaMemory>,
    ) -> Result<VirtBoard, BoardError> {
        if cfg.harts == 0 || cfg.harts > 512 {
            return Err(BoardError::Config("number of harts must be 1..=512"));
        }
        if cfg.ram_size == 0 || !cfg.ram_size.is_multiple_of(4096) {
            return Err(BoardError::Config(
                "RAM size must be a non-zero multiple of 4 KiB",
            ));
        }
        let mut bus = Bus::new();
        let ram = Arc::new(Ram::new(RAM_BASE, cfg.ram_size)?);
        bus.map_ram("ram", ram.clone())?;
        let contexts = 2 * cfg.harts;
        let plic = Arc::new(Plic::new(contexts));
        bus.map_mmio("plic", PLIC_BASE, plic::mmio_size(contexts), plic.clone())?;
        let clint = Arc::new(Clint::new(cfg.harts));
        bus.map_mmio("clint", CLINT_BASE, clint::MMIO_SIZE, clint.clone())?;
        let uart = Arc::new(Uart::new(
            cfg.uart_out,
            IrqLine::new(plic.clone(), UART_IRQ),
        ));
        bus.map_mmio("uart", UART_BASE, UART_SIZE, uart.clone())?;
        let finisher = Arc::new(TestFinisher::new());
        bus.map_mmio("test", TEST_BASE, power::MMIO_SIZE, finisher.clone())?;
        let rtc = Arc::new(GoldfishRtc::new(IrqLine::new(plic.clone(), RTC_IRQ)));
        bus.map_mmio("rtc", RTC_BASE, rtc::MMIO_SIZE, rtc.clone())?;

        let mut devs: Vec<Box<dyn VirtioDevice>> = vec![];
        for d in &cfg.drives {
            let disk = BlockBackend::open(&d.path, d.read_only, d.snapshot).map_err(|err| {
                BoardError::Drive {
                    path: d.path.display().to_string(),
                    err,
                }
            })?;
            devs.push(Box::new(VirtioBlk::new(disk, &d.id)));
        }
        if cfg.rng {
            devs.push(Box::new(VirtioRng::new()));
        }
        let mut console = None;
        if let Some(out) = cfg.virtio_console {
            let (c, input) = VirtioConsole::new(out);
            console = Some((devs.len(), input));
            devs.push(Box::new(c));
        }
        for nic in &cfg.nics {
            devs.push(Box::new(VirtioNet::new(nic.mac, nic.link_up)));
        }
        if devs.len() > VIRTIO_SLOTS {
            return Err(BoardError::TooManyVirtio);
        }
        let mut devs = devs.into_iter();
        let dma = dma(ram.clone());
        let mut virtio = vec![];
        for n in 0..VIRTIO_SLOTS {
            let irq = IrqLine::new(plic.clone(), VIRTIO_IRQ_BASE + n as u32);
            let slot = Arc::new(VirtioMmio::new(devs.next(), dma.clone(), irq));
            let base = VIRTIO_BASE + n as u64 * virtio::MMIO_SIZE;
            bus.map_mmio(&format!("virtio{n}"), base, virtio::MMIO_SIZE, slot.clone())?;
            virtio.push(slot);
        }
        Ok(VirtBoard {
            bus,
            ram,
            harts: cfg.harts,
            plic,
            clint,
            uart,
            finisher,
            rtc,
            virtio,
            console,
        })
    }

    /// Feeds console input to the UART.
    pub fn uart_input(&self, bytes: &[u8]) {
        self.uart.push_input(bytes);
    }

    /// Feeds input to the virtio-console, if any, and lets the device deliver it.
    pub fn virtio_console_input(&self, bytes: &[u8]) -> bool {
        match &self.console {
            Some((slot, input)) => {
                input.push(bytes);
                self.virtio[*slot].kick(0);
                true
            }
            None => false,
        }
    }

    /// Wires the interrupt outputs to each hart's device-driven `mip` bits (one
    /// `AtomicU64` per hart in `mip` layout: MSIP bit 3, MTIP 7, SEIP 9, MEIP 11, as the
    /// CPU side's `irq_lines()` expects). `wake(hart)` runs after a bit changes (to unpark a
    /// hart in WFI); it must not access devices. Current levels are applied at once.
    pub fn connect_harts(
        &self,
        lines: Vec<Arc<AtomicU64>>,
        wake: impl Fn(usize) + Send + Sync + 'static,
    ) -> Result<(), BoardError> {
        if lines.len() != self.harts {
            return Err(BoardError::Config("one mip line set per hart"));
        }
        let lines: Arc<[Arc<AtomicU64>]> = lines.into();
        let wake: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(wake);
        let set = {
            let lines = lines.clone();
            move |hart: usize, bit: u64, level: bool| {
                if let Some(l) = lines.get(hart) {
                    if level {
                        l.fetch_or(bit, Ordering::SeqCst);
                    } else {
                        l.fetch_and(!bit, Ordering::SeqCst);
                    }
                }
            }
        };
        let (set1, wake1) = (set.clone(), wake.clone());
        self.plic.set_notifier(move |ctx, level| {
            let bit = if ctx % 2 == 0 { MIP_MEIP } else { MIP_SEIP };
            set1(ctx / 2, bit, level);
            wake1(ctx / 2);
        });
        let (set2, wake2) = (set.clone(), wake.clone());
        self.clint.set_notifier(move |hart, line, level| {
            let bit = match line {
                ClintLine::Msip => MIP_MSIP,
                ClintLine::Mtip => MIP_MTIP,
            };
            set2(hart, bit, level);
            wake2(hart);
        });
        let eip = self.plic.eip();
        let out = self.clint.outputs();
        for h in 0..self.harts {
            set(h, MIP_MEIP, eip[2 * h].load(Ordering::SeqCst));
            set(h, MIP_SEIP, eip[2 * h + 1].load(Ordering::SeqCst));
            set(h, MIP_MSIP, out.msip[h].load(Ordering::SeqCst));
            set(h, MIP_MTIP, out.mtip[h].load(Ordering::SeqCst));
        }
        Ok(())
    }

    /// A `time` CSR source: the CLINT's mtime.
    pub fn mtime_source(&self) -> Box<dyn Fn() -> u64 + Send> {
        let clint = self.clint.clone();
        Box::new(move || clint.mtime())
    }

    /// Time-driven device updates (CLINT MTIP, RTC alarm); call from the run loop.
    pub fn poll(&self) {
        self.clint.refresh();
        self.rtc.poll();
    }

    /// The flattened device tree of this board.
    pub fn device_tree(&self, opts: &FdtOptions) -> Result<Vec<u8>, BoardError> {
        self.fdt(opts).map_err(|e| BoardError::Fdt(e.to_string()))
    }

    fn fdt(&self, opts: &FdtOptions) -> Result<Vec<u8>, vm_fdt::Error> {
        let h = self.harts as u32;
        let cpu_ph = |i: u32| 1 + 2 * i;
        let intc_ph = |i: u32| 2 + 2 * i;
        let plic_ph = 2 * h + 1;
        let test_ph = 2 * h + 2;
        let hi = |v: u64| (v >> 32) as u32;
        let lo = |v: u64| v as u32;
        let reg = |base: u64, size: u64| [hi(base), lo(base), hi(size), lo(size)];

        let mut f = vm_fdt::FdtWriter::new()?;
        let root = f.begin_node("")?;
        f.property_u32("#address-cells", 2)?;
        f.property_u32("#size-cells", 2)?;
        f.property_string("compatible", "riscv-virtio")?;
        f.property_string("model", "riscv-virtio,heron")?;

        let chosen = f.begin_node("chosen")?;
        f.property_string("bootargs", &opts.bootargs)?;
        f.property_string("stdout-path", &format!("/soc/serial@{UART_BASE:x}"))?;
        if let Some((start, end)) = opts.initrd {
            f.property_u64("linux,initrd-start", start)?;
            f.property_u64("linux,initrd-end", end)?;
        }
        f.end_node(chosen)?;

        let mem = f.begin_node(&format!("memory@{RAM_BASE:x}"))?;
        f.property_string("device_type", "memory")?;
        f.property_array_u32("reg", &reg(RAM_BASE, self.ram.len()))?;
        f.end_node(mem)?;

        let cpus = f.begin_node("cpus")?;
        f.property_u32("#address-cells", 1)?;
        f.property_u32("#size-cells", 0)?;
        f.property_u32("timebase-frequency", clint::TIMEBASE_HZ as u32)?;
        for i in 0..h {
            let cpu = f.begin_node(&format!("cpu@{i}"))?;
            f.property_string("device_type", "cpu")?;
            f.property_u32("reg", i)?;
            f.property_string("status", "okay")?;
            f.property_string("compatible", "riscv")?;
            f.property_string("riscv,isa", &opts.isa)?;
            if let Some((base, exts)) = isa_extensions(&opts.isa) {
                f.property_string("riscv,isa-base", &base)?;
                for (ext, prop) in CBO_BLOCK_SIZE_PROPS {
                    if exts.iter().any(|e| e == ext) {
                        f.property_u32(prop, CBO_BLOCK_SIZE)?;
                    }
                }
                f.property_string_list("riscv,isa-extensions", exts)?;
            }
            f.property_string("mmu-type", &opts.mmu_type)?;
            f.property_phandle(cpu_ph(i))?;
            let intc = f.begin_node("interrupt-controller")?;
            f.property_u32("#address-cells", 0)?;
            f.property_u32("#interrupt-cells", 1)?;
            f.property_null("interrupt-controller")?;
            f.property_string("compatible", "riscv,cpu-intc")?;
            f.property_phandle(intc_ph(i))?;
            f.end_node(intc)?;
            f.end_node(cpu)?;
        }
        let map = f.begin_node("cpu-map")?;
        let cluster = f.begin_node("cluster0")?;
        for i in 0..h {
            let core = f.begin_node(&format!("core{i}"))?;
            f.property_u32("cpu", cpu_ph(i))?;
            f.end_node(core)?;
        }
        f.end_node(cluster)?;
        f.end_node(map)?;
        f.end_node(cpus)?;

        let soc = f.begin_node("soc")?;
        f.property_u32("#address-cells", 2)?;
        f.property_u32("#size-cells", 2)?;
        f.property_string("compatible", "simple-bus")?;
        f.property_null("ranges")?;

        let n = f.begin_node(&format!("clint@{CLINT_BASE:x}"))?;
        f.property_string_list(
            "compatible",
            vec!["sifive,clint0".into(), "riscv,clint0".into()],
        )?;
        f.property_array_u32("reg", &reg(CLINT_BASE, clint::MMIO_SIZE))?;
        let ext: Vec<u32> = (0..h)
            .flat_map(|i| [intc_ph(i), 3, intc_ph(i), 7])
            .collect();
        f.property_array_u32("interrupts-extended", &ext)?;
        f.end_node(n)?;

        let n = f.begin_node(&format!("plic@{PLIC_BASE:x}"))?;
        f.property_string_list(
            "compatible",
            vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()],
        )?;
        f.property_array_u32("reg", &reg(PLIC_BASE, plic::mmio_size(2 * self.harts)))?;
        f.property_u32("#address-cells", 0)?;
        f.property_u32("#interrupt-cells", 1)?;
        f.property_null("interrupt-controller")?;
        f.property_u32("riscv,ndev", plic::NUM_SOURCES as u32 - 1)?;
        let ext: Vec<u32> = (0..h)
            .flat_map(|i| [intc_ph(i), 11, intc_ph(i), 9])
            .collect();
        f.property_array_u32("interrupts-extended", &ext)?;
        f.property_phandle(plic_ph)?;
        f.end_node(n)?;

        let n = f.begin_node(&format!("serial@{UART_BASE:x}"))?;
        f.property_string("compatible", "ns16550a")?;
        f.property_array_u32("reg", &reg(UART_BASE, UART_SIZE))?;
        f.property_u32("clock-frequency", UART_CLOCK_HZ)?;
        f.property_u32("interrupt-parent", plic_ph)?;
        f.property_u32("interrupts", UART_IRQ)?;
        f.end_node(n)?;

        let n = f.begin_node(&format!("test@{TEST_BASE:x}"))?;
        f.property_string_list(
            "compatible",
            vec![
                "sifive,test1".into(),
                "sifive,test0".into(),
                "syscon".into(),
            ],
        )?;
        f.property_array_u32("reg", &reg(TEST_BASE, power::MMIO_SIZE))?;
        f.property_phandle(test_ph)?;
        f.end_node(n)?;

        let n = f.begin_node(&format!("rtc@{RTC_BASE:x}"))?;
        f.property_string("compatible", "google,goldfish-rtc")?;
        f.property_array_u32("reg", &reg(RTC_BASE, rtc::MMIO_SIZE))?;
        f.property_u32("interrupt-parent", plic_ph)?;
        f.property_u32("interrupts", RTC_IRQ)?;
        f.end_node(n)?;

        for i in 0..self.virtio.len() as u64 {
            let base = VIRTIO_BASE + i * virtio::MMIO_SIZE;
            let n = f.begin_node(&format!("virtio_mmio@{base:x}"))?;
            f.property_string("compatible", "virtio,mmio")?;
            f.property_array_u32("reg", &reg(base, virtio::MMIO_SIZE))?;
            f.property_u32("interrupt-parent", plic_ph)?;
            f.property_u32("interrupts", VIRTIO_IRQ_BASE + i as u32)?;
            f.end_node(n)?;
        }
        f.end_node(soc)?;

        for (name, compat, value) in [
            ("poweroff", "syscon-poweroff", FINISHER_PASS),
            ("reboot", "syscon-reboot", FINISHER_RESET),
        ] {
            let n = f.begin_node(name)?;
            f.property_string("compatible", compat)?;
            f.property_u32("regmap", test_ph)?;
            f.property_u32("offset", 0)?;
            f.property_u32("value", value)?;
            f.end_node(n)?;
        }
        f.end_node(root)?;
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::PowerEvent;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    type Props = BTreeMap<String, Vec<u8>>;

    /// A minimal flattened-device-tree reader: node path -> properties.
    fn parse_fdt(b: &[u8]) -> BTreeMap<String, Props> {
        let be32 = |o: usize| u32::from_be_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(be32(0), 0xd00d_feed, "magic");
        assert_eq!(be32(4) as usize, b.len(), "totalsize");
        let (st, strs) = (be32(8) as usize, be32(12) as usize);
        let cstr = |o: usize| {
            let end = o + b[o..].iter().position(|&c| c == 0).unwrap();
            (String::from_utf8(b[o..end].to_vec()).unwrap(), end + 1)
        };
        let mut out = BTreeMap::new();
        let mut path: Vec<String> = vec![];
        let mut p = st;
        loop {
            let tok = be32(p);
            p += 4;
            match tok {
                1 => {
                    let (name, end) = cstr(p);
                    p = end.next_multiple_of(4);
                    path.push(name);
                    out.insert(path.join("/"), Props::new());
                }
                2 => {
                    path.pop();
                }
                3 => {
                    let (len, nameoff) = (be32(p) as usize, be32(p + 4) as usize);
                    let (name, _) = cstr(strs + nameoff);
                    let val = b[p + 8..p + 8 + len].to_vec();
                    p = (p + 8 + len).next_multiple_of(4);
                    out.get_mut(&path.join("/")).unwrap().insert(name, val);
                }
                4 => {}
                9 => break,
                t => panic!("bad token {t}"),
            }
        }
        out
    }

    fn cells(v: &[u8]) -> Vec<u32> {
        v.chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }
    fn string(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap().trim_end_matches('\0')
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn disk(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("heron-virt-{}-{name}.img", std::process::id()));
        std::fs::write(&p, vec![7u8; 8192]).unwrap();
        p
    }

    fn board(harts: usize, drive: &std::path::Path, out: Sink) -> VirtBoard {
        VirtBoard::new(VirtConfig {
            ram_size: 64 << 20,
            harts,
            drives: vec![DriveConfig {
                path: drive.into(),
                id: "hd0".into(),
                read_only: false,
                snapshot: true,
            }],
            rng: true,
            virtio_console: None,
            nics: vec![NicConfig {
                mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
                link_up: true,
            }],
            uart_out: Box::new(out),
        })
        .unwrap()
    }

    #[test]
    fn board_wiring() {
        let path = disk("wiring");
        let out = Sink::default();
        let b = board(2, &path, out.clone());
        // Device IDs as Linux's virtio_mmio probe sees them.
        let ids: Vec<u64> = (0..8)
            .map(|n| b.bus.read(VIRTIO_BASE + n * 0x1000 + 8, 4).unwrap())
            .collect();
        assert_eq!(ids, [2, 4, 1, 0, 0, 0, 0, 0]);
        // UART output through the bus; its interrupt reaches hart 1's S context via the PLIC.
        for c in b"ok" {
            b.bus.write(UART_BASE, 1, u64::from(*c)).unwrap();
        }
        assert_eq!(&*out.0.lock().unwrap(), b"ok");
        let s1 = Plic::context(1, true);
        b.bus
            .write(PLIC_BASE + 4 * u64::from(UART_IRQ), 4, 1)
            .unwrap();
        b.bus
            .write(PLIC_BASE + 0x2000 + 0x80 * s1 as u64, 4, 1 << UART_IRQ)
            .unwrap();
        b.bus.write(UART_BASE + 1, 1, 1).unwrap(); // IER: received data
        b.uart_input(b"x");
        assert!(b.plic.eip()[s1].load(Ordering::SeqCst));
        assert!(!b.plic.eip()[Plic::context(0, true)].load(Ordering::SeqCst));
        assert_eq!(
            b.bus
                .read(PLIC_BASE + 0x20_0004 + 0x1000 * s1 as u64, 4)
                .unwrap(),
            10
        );
        // CLINT: hart 1 timer and IPI.
        b.bus.write(CLINT_BASE + 0x4008, 8, 0).unwrap();
        assert!(b.clint.outputs().mtip[1].load(Ordering::SeqCst));
        b.bus.write(CLINT_BASE, 4, 1).unwrap();
        assert!(b.clint.outputs().msip[0].load(Ordering::SeqCst));
        // Power-off.
        b.bus.write(TEST_BASE, 4, 0x5555).unwrap();
        assert_eq!(b.finisher.take_event(), Some(PowerEvent::PowerOff));
        // RTC time is the host's.
        let t = b.bus.read(RTC_BASE, 4).unwrap() | b.bus.read(RTC_BASE + 4, 4).unwrap() << 32;
        assert!(t > 1_700_000_000 * 1_000_000_000);
        // A misbehaving guest gets errors, not panics.
        assert!(b.bus.read(0x3000_0000, 4).is_err());
        assert!(b.bus.read(UART_BASE, 4).is_err());
        assert!(b.bus.write(VIRTIO_BASE, 2, 0).is_err());
        assert!(b.bus.read(RAM_BASE + (64 << 20), 1).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn isa_string_splits_into_base_and_extensions() {
        let (base, exts) = isa_extensions("rv64imac_zicsr_sstc").unwrap();
        assert_eq!(base, "rv64i");
        assert_eq!(exts, ["i", "m", "a", "c", "zicsr", "sstc"]);
        assert_eq!(
            isa_extensions("RV32I").unwrap(),
            ("rv32i".into(), vec!["i".into()])
        );
        assert_eq!(isa_extensions("rv64e"), None);
        assert_eq!(isa_extensions("x86"), None);
        assert_eq!(isa_extensions("rv64ima__zicsr"), None);
        assert_eq!(isa_extensions("rv64im1"), None);
    }

    /// Each CMO extension in the ISA string brings its block-size property to every cpu
    /// node (Linux ignores Zicbom/Zicboz without one); those not listed bring none.
    #[test]
    fn device_tree_gives_cbo_block_sizes() {
        let path = disk("fdt-cbo");
        let b = board(2, &path, Sink::default());
        for (isa, want) in [
            (
                "rv64imac_zicbom_zicbop_zicboz_zicsr",
                &[
                    "riscv,cbom-block-size",
                    "riscv,cbop-block-size",
                    "riscv,cboz-block-size",
                ][..],
            ),
            ("rv64imac_zicboz", &["riscv,cboz-block-size"][..]),
        ] {
            let opts = FdtOptions {
                isa: isa.into(),
                mmu_type: "riscv,sv39".into(),
                ..FdtOptions::default()
            };
            let t = parse_fdt(&b.device_tree(&opts).unwrap());
            for i in 0..2 {
                let cpu = &t[&format!("/cpus/cpu@{i}")];
                for (_, prop) in CBO_BLOCK_SIZE_PROPS {
                    match cpu.get(prop) {
                        Some(v) => {
                            assert!(want.contains(&prop), "{isa}: unexpected {prop}");
                            assert_eq!(cells(v), [CBO_BLOCK_SIZE], "{isa}: {prop}");
                        }
                        None => assert!(!want.contains(&prop), "{isa}: no {prop}"),
                    }
                }
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn device_tree_matches_board() {
        let path = disk("fdt");
        let b = board(2, &path, Sink::default());
        let opts = FdtOptions {
            isa: "rv64imafdc_zicsr_zifencei".into(),
            mmu_type: "riscv,sv39".into(),
            bootargs: "console=ttyS0 panic=-1".into(),
            initrd: Some((0x8800_0000, 0x8820_0000)),
        };
        let t = parse_fdt(&b.device_tree(&opts).unwrap());
        let root = &t[""];
        assert_eq!(cells(&root["#address-cells"]), [2]);
        assert_eq!(string(&t["/chosen"]["bootargs"]), "console=ttyS0 panic=-1");
        assert_eq!(string(&t["/chosen"]["stdout-path"]), "/soc/serial@10000000");
        assert_eq!(cells(&t["/chosen"]["linux,initrd-start"]), [0, 0x8800_0000]);
        assert_eq!(cells(&t["/chosen"]["linux,initrd-end"]), [0, 0x8820_0000]);
        assert_eq!(
            cells(&t["/memory@80000000"]["reg"]),
            [0, 0x8000_0000, 0, 64 << 20]
        );
        assert_eq!(cells(&t["/cpus"]["timebase-frequency"]), [10_000_000]);
        for i in 0..2u32 {
            let cpu = &t[&format!("/cpus/cpu@{i}")];
            assert_eq!(cells(&cpu["reg"]), [i]);
            assert_eq!(string(&cpu["riscv,isa"]), "rv64imafdc_zicsr_zifencei");
            assert_eq!(string(&cpu["mmu-type"]), "riscv,sv39");
            assert_eq!(string(&cpu["riscv,isa-base"]), "rv64i");
            assert_eq!(
                &cpu["riscv,isa-extensions"][..],
                b"i\0m\0a\0f\0d\0c\0zicsr\0zifencei\0"
            );
            for (_, prop) in CBO_BLOCK_SIZE_PROPS {
                assert!(!cpu.contains_key(prop), "{prop} without the extension");
            }
            let intc = &t[&format!("/cpus/cpu@{i}/interrupt-controller")];
            assert_eq!(string(&intc["compatible"]), "riscv,cpu-intc");
        }
        let intc0 = cells(&t["/cpus/cpu@0/interrupt-controller"]["phandle"])[0];
        let intc1 = cells(&t["/cpus/cpu@1/interrupt-controller"]["phandle"])[0];
        let plic = &t["/soc/plic@c000000"];
        assert_eq!(
            cells(&plic["interrupts-extended"]),
            [intc0, 11, intc0, 9, intc1, 11, intc1, 9]
        );
        assert_eq!(cells(&plic["riscv,ndev"]), [95]);
        assert!(plic.contains_key("interrupt-controller"));
        let plic_ph = cells(&plic["phandle"])[0];
        let clint = &t["/soc/clint@2000000"];
        assert_eq!(
            cells(&clint["interrupts-extended"]),
            [intc0, 3, intc0, 7, intc1, 3, intc1, 7]
        );
        assert_eq!(cells(&clint["reg"]), [0, 0x200_0000, 0, 0x1_0000]);
        let uart = &t["/soc/serial@10000000"];
        assert_eq!(string(&uart["compatible"]), "ns16550a");
        assert_eq!(cells(&uart["interrupts"]), [10]);
        assert_eq!(cells(&uart["interrupt-parent"]), [plic_ph]);
        for n in 0..8u32 {
            let v = &t[&format!("/soc/virtio_mmio@{:x}", 0x1000_1000 + n * 0x1000)];
            assert_eq!(string(&v["compatible"]), "virtio,mmio");
            assert_eq!(cells(&v["interrupts"]), [n + 1]);
        }
        let test = &t["/soc/test@100000"];
        assert_eq!(
            &test["compatible"][..],
            b"sifive,test1\0sifive,test0\0syscon\0"
        );
        let test_ph = cells(&test["phandle"])[0];
        assert_eq!(cells(&t["/poweroff"]["regmap"]), [test_ph]);
        assert_eq!(cells(&t["/poweroff"]["value"]), [0x5555]);
        assert_eq!(cells(&t["/reboot"]["value"]), [0x7777]);
        assert_eq!(
            string(&t["/soc/rtc@101000"]["compatible"]),
            "google,goldfish-rtc"
        );
        // Every mapped MMIO region appears in the tree with its own address.
        for r in b.bus.regions() {
            let found = t.iter().any(|(path, props)| {
                path.contains(&format!("@{:x}", r.base))
                    && props
                        .get("reg")
                        .is_some_and(|v| cells(v)[..2] == [(r.base >> 32) as u32, r.base as u32])
            });
            assert!(
                found,
                "region {} at {:#x} missing from the device tree",
                r.name, r.base
            );
        }
        std::fs::remove_file(&path).unwrap();
    }

    /// A virtio-rng request driven through the board's bus, exactly as Linux does it,
    /// with completion reported through the PLIC to hart 0's S context.
    #[test]
    fn virtio_through_bus_and_plic() {
        let path = disk("plic");
        let b = board(1, &path, Sink::default());
        let slot = VIRTIO_BASE + 0x1000; // rng: slot 1, irq 2
        let w = |off: u64, v: u64| b.bus.write(slot + off, 4, v).unwrap();
        let r = |off: u64| b.bus.read(slot + off, 4).unwrap();
        assert_eq!(r(0), 0x7472_6976);
        assert_eq!(r(8), 4);
        w(0x70, 0);
        w(0x70, 3);
        w(0x24, 1);
        w(0x20, 1); // VIRTIO_F_VERSION_1
        w(0x70, 0xb);
        assert_eq!(r(0x70), 0xb);
        let (desc, avail, used, buf) = (
            RAM_BASE,
            RAM_BASE + 0x1000,
            RAM_BASE + 0x2000,
            RAM_BASE + 0x3000,
        );
        w(0x30, 0);
        w(0x38, 8);
        w(0x80, desc);
        w(0x90, avail);
        w(0xa0, used);
        w(0x44, 1);
        w(0x70, 0xf);
        let s0 = Plic::context(0, true);
        b.bus.write(PLIC_BASE + 8, 4, 1).unwrap();
        b.bus
            .write(PLIC_BASE + 0x2000 + 0x80 * s0 as u64, 4, 1 << 2)
            .unwrap();
        b.bus.write(desc, 8, buf).unwrap();
        b.bus.write(desc + 8, 4, 32).unwrap();
        b.bus.write(desc + 12, 2, 2).unwrap(); // device-writable
        b.bus.write(avail + 4, 2, 0).unwrap();
        b.bus.write(avail + 2, 2, 1).unwrap();
        w(0x50, 0);
        assert_eq!(b.bus.read(used + 2, 2).unwrap(), 1);
        assert_eq!(b.bus.read(used + 8, 4).unwrap(), 32);
        assert!(b.plic.eip()[s0].load(Ordering::SeqCst));
        let claim = PLIC_BASE + 0x20_0004 + 0x1000 * s0 as u64;
        assert_eq!(b.bus.read(claim, 4).unwrap(), 2);
        assert_eq!(r(0x60), 1);
        w(0x64, 1);
        b.bus.write(claim, 4, 2).unwrap();
        assert!(!b.plic.eip()[s0].load(Ordering::SeqCst));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn hart_mip_lines() {
        let path = disk("mip");
        let b = board(2, &path, Sink::default());
        let lines: Vec<Arc<AtomicU64>> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let woken = Arc::new(Mutex::new(vec![]));
        let w = woken.clone();
        b.bus.write(CLINT_BASE + 4, 4, 1).unwrap(); // hart 1 MSIP before connecting
        b.connect_harts(lines.clone(), move |h| w.lock().unwrap().push(h))
            .unwrap();
        assert_eq!(lines[1].load(Ordering::SeqCst), MIP_MSIP);
        b.bus.write(CLINT_BASE + 4, 4, 0).unwrap();
        assert_eq!(lines[1].load(Ordering::SeqCst), 0);
        b.bus.write(CLINT_BASE + 0x4000, 8, 0).unwrap(); // hart 0 timer fires
        assert_eq!(lines[0].load(Ordering::SeqCst), MIP_MTIP);
        b.bus.write(CLINT_BASE + 0x4000, 8, u64::MAX).unwrap();
        assert_eq!(lines[0].load(Ordering::SeqCst), 0);
        // UART irq to hart 1's M context.
        let m1 = Plic::context(1, false) as u64;
        b.bus
            .write(PLIC_BASE + 4 * u64::from(UART_IRQ), 4, 1)
            .unwrap();
        b.bus
            .write(PLIC_BASE + 0x2000 + 0x80 * m1, 4, 1 << UART_IRQ)
            .unwrap();
        b.bus.write(UART_BASE + 1, 1, 2).unwrap(); // THR-empty interrupt
        assert_eq!(lines[1].load(Ordering::SeqCst), MIP_MEIP);
        b.bus.write(UART_BASE + 1, 1, 0).unwrap();
        assert_eq!(lines[1].load(Ordering::SeqCst), 0);
        assert_eq!(*woken.lock().unwrap(), vec![1, 0, 0, 1, 1]);
        assert!(b.connect_harts(vec![], |_| {}).is_err());
        let t = b.mtime_source();
        assert!(t() <= b.clint.mtime());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn nics_probe_with_their_macs_and_link() {
        let nic = |last: u8, link_up: bool| NicConfig {
            mac: [0x52, 0x54, 0, 0xaa, 0xbb, last],
            link_up,
        };
        let b = VirtBoard::new(VirtConfig {
            ram_size: 1 << 20,
            harts: 1,
            drives: vec![],
            rng: false,
            virtio_console: None,
            nics: vec![nic(1, true), nic(2, false)],
            uart_out: Box::new(std::io::sink()),
        })
        .unwrap();
        for (n, last, link) in [(0u64, 1u64, 1u64), (1, 2, 0)] {
            let base = VIRTIO_BASE + n * virtio::MMIO_SIZE;
            assert_eq!(b.bus.read(base + 8, 4).unwrap(), 1, "device ID net");
            let cfg = |off: u64, size: u8| b.bus.read(base + 0x100 + off, size).unwrap();
            let mac: Vec<u64> = (0..6).map(|i| cfg(i, 1)).collect();
            assert_eq!(mac, [0x52, 0x54, 0, 0xaa, 0xbb, last]);
            assert_eq!(cfg(6, 2), link, "status: link");
        }
        assert_eq!(
            b.bus
                .read(VIRTIO_BASE + 2 * virtio::MMIO_SIZE + 8, 4)
                .unwrap(),
            0
        );
    }

    #[test]
    fn virtio_console_and_config_errors() {
        let out = Sink::default();
        let b = VirtBoard::new(VirtConfig {
            ram_size: 1 << 20,
            harts: 1,
            drives: vec![],
            rng: false,
            virtio_console: Some(Box::new(out)),
            nics: vec![],
            uart_out: Box::new(std::io::sink()),
        })
        .unwrap();
        assert_eq!(b.bus.read(VIRTIO_BASE + 8, 4).unwrap(), 3);
        assert!(b.virtio_console_input(b"x"));
        let bad = |harts, ram_size| {
            VirtBoard::new(VirtConfig {
                ram_size,
                harts,
                drives: vec![],
                rng: false,
                virtio_console: None,
                nics: vec![],
                uart_out: Box::new(std::io::sink()),
            })
            .is_err()
        };
        assert!(bad(0, 1 << 20));
        assert!(bad(1, 100));
        let missing = VirtBoard::new(VirtConfig {
            ram_size: 1 << 20,
            harts: 1,
            drives: vec![DriveConfig {
                path: "/nonexistent/heron.img".into(),
                id: "x".into(),
                read_only: false,
                snapshot: false,
            }],
            rng: false,
            virtio_console: None,
            nics: vec![],
            uart_out: Box::new(std::io::sink()),
        });
        assert!(matches!(missing, Err(BoardError::Drive { .. })));
    }
}

#[cfg(test)]
mod dtc_tests {
    use super::*;

    /// Round-trips the blob through `dtc` when it is installed (apt-get install
    /// device-tree-compiler); the reader in `tests` covers the content either way.
    #[test]
    fn dtc_accepts_blob() {
        let b = VirtBoard::new(VirtConfig {
            ram_size: 256 << 20,
            harts: 2,
            drives: vec![],
            rng: true,
            virtio_console: None,
            nics: vec![],
            uart_out: Box::new(std::io::sink()),
        })
        .unwrap();
        let opts = FdtOptions {
            isa: "rv64imafdc_zicbom_zicbop_zicboz".into(),
            mmu_type: "riscv,sv39".into(),
            bootargs: "console=ttyS0".into(),
            initrd: None,
        };
        let blob = b.device_tree(&opts).unwrap();
        let path = std::env::temp_dir().join(format!("heron-virt-{}.dtb", std::process::id()));
        std::fs::write(&path, &blob).unwrap();
        let out = match std::process::Command::new("dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&path)
            .output()
        {
            Ok(o) => o,
            Err(_) => {
                eprintln!("SKIPPED: dtc not installed (apt-get install device-tree-compiler)");
                let _ = std::fs::remove_file(&path);
                return;
            }
        };
        std::fs::remove_file(&path).unwrap();
        let dts = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{warnings}");
        assert!(warnings.trim().is_empty(), "dtc warnings:\n{warnings}");
        assert!(dts.contains("serial@10000000"), "{dts}");
        assert!(dts.contains("compatible = \"virtio,mmio\""), "{dts}");
    }
}
