//! The QEMU-compatible command line of `heron system riscv64`: the options of
//! qemu-system-riscv64 that the shared guest images use (`-M virt -accel tcg -nographic
//! -no-reboot -nic none -smp -m -bios -kernel -initrd -append -drive -device`), the debug
//! options (`-d`, `-D`, `-s`, `-S`, `-gdb`) and heron's own (`--tier`, `--jit-threshold`,
//! `--quick-threshold`, `--promote-threshold`).
//! Network and console devices use QEMU's spelling too: `-device virtio-net-device
//! [,netdev=ID][,mac=M]` with `-netdev hubport` (the only backend: what a NIC alone on a
//! hub sends is dropped; `user`, `tap`, ... are refused as not implemented), and
//! `-device virtio-serial-device -device virtconsole,chardev=ID` with `-chardev file|null`.
//! Anything else is an error naming the option (exit status 2).

use crate::cli::{CliError, parse_size};
use heron_backend::engine::Tier;
use std::ffi::OsString;
use std::path::PathBuf;

/// Log items of `-d` in system mode, with their help text.
pub const SYSTEM_LOG_ITEMS: &[(&str, &str)] = &[
    ("in_asm", "show guest instructions of each translated block"),
    ("op", "show the IR of each translated block"),
    ("out_asm", "show the host code generated for each block"),
    ("exec", "show each executed block"),
    ("nochain", "do not chain compiled blocks"),
    ("int", "show each trap and interrupt taken, and WFI sleeps"),
    (
        "mmu",
        "show each TLB fill: access, satp mode, every PTE of the page walk, result",
    ),
    ("guest_errors", "show guest accesses that fail on the bus"),
    ("stats", "print engine statistics at exit"),
];

/// One `-drive`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriveArg {
    pub file: PathBuf,
    pub id: String,
    pub snapshot: bool,
    pub read_only: bool,
}

/// One `-device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    VirtioBlk {
        drive: String,
    },
    VirtioRng,
    /// `virtio-net-device[,netdev=ID][,mac=MAC]`.
    VirtioNet {
        netdev: Option<String>,
        mac: Option<[u8; 6]>,
    },
    /// `virtio-serial-device`: the bus of a `virtconsole` (heron's virtio-console is a
    /// single-port device, so each one carries exactly one virtconsole).
    VirtioSerial,
    /// `virtconsole,chardev=ID`.
    VirtConsole {
        chardev: String,
    },
}

/// One `-netdev`. Only `hubport` exists: a port of an emulated hub. A NIC alone on its hub
/// sends into nothing (its frames are dropped, nothing arrives), which is what heron's
/// virtio-net can honestly do until it has a real backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetdevArg {
    pub id: String,
    pub hubid: u32,
}

/// Where a `-chardev` goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChardevBackend {
    /// `null`: output discarded, no input.
    Null,
    /// `file,path=F[,append=on]`: output written to F (truncated first unless append), no input.
    File { path: PathBuf, append: bool },
}

/// One `-chardev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChardevArg {
    pub id: String,
    pub backend: ChardevBackend,
}

/// Everything `heron system riscv64` was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemConfig {
    pub harts: usize,
    pub ram_size: u64,
    /// `-bios FILE`; None means `-bios none` (the kernel, if any, starts in M-mode).
    pub bios: Option<PathBuf>,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub append: String,
    pub drives: Vec<DriveArg>,
    pub devices: Vec<DeviceArg>,
    pub netdevs: Vec<NetdevArg>,
    pub chardevs: Vec<ChardevArg>,
    pub no_reboot: bool,
    pub log_items: Vec<String>,
    pub log_file: Option<PathBuf>,
    /// `-gdb DEV` / `-s` (tcp::1234).
    pub gdb: Option<String>,
    /// `-S`: do not start the CPUs until the debugger says so.
    pub wait_for_gdb: bool,
    pub tier: Tier,
    pub jit_threshold: Option<u32>,
    /// Interpreted runs before the quick tier compiles a block (0: no quick tier).
    pub quick_threshold: Option<u32>,
    /// Quick-tier runs before Cranelift recompiles a block (0: never).
    pub promote_threshold: Option<u32>,
    /// `-perfmap`: write /tmp/perf-<pid>.map naming JIT code for `perf report`.
    pub perfmap: bool,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            harts: 1,
            ram_size: 128 << 20,
            bios: None,
            kernel: None,
            initrd: None,
            append: String::new(),
            drives: vec![],
            devices: vec![],
            netdevs: vec![],
            chardevs: vec![],
            no_reboot: false,
            log_items: vec![],
            log_file: None,
            gdb: None,
            wait_for_gdb: false,
            perfmap: false,
            tier: Tier::Auto,
            jit_threshold: None,
            quick_threshold: None,
            promote_threshold: None,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum SystemRequest {
    Run(Box<SystemConfig>),
    /// Print this and exit 0 (`-d help`, `-machine help`, `--help`, ...).
    Print(String),
}

fn usage(msg: impl Into<String>) -> CliError {
    CliError {
        msg: msg.into(),
        status: 2,
    }
}

pub fn help_text() -> String {
    let mut s = String::from(
        "usage: heron system riscv64 [options]   (also: heron-system-riscv64 [options])\n\
         QEMU-compatible options (qemu-system-riscv64 spelling):\n\
         \x20 -M|-machine virt        the riscv64 virt board (the only one)\n\
         \x20 -accel tcg              accepted (heron always translates)\n\
         \x20 -nographic              console on stdin/stdout (the default); Ctrl-A h for help\n\
         \x20 -no-reboot              exit instead of restarting when the guest resets\n\
         \x20 -perfmap                write /tmp/perf-<pid>.map naming JIT code for perf report\n\
         \x20 -nic none, -net none    no default network interface (heron adds none anyway)\n\
         \x20 -smp N                  N harts, one host thread each\n\
         \x20 -m SIZE                 RAM size (k/M/G suffix; default 128M)\n\
         \x20 -bios FILE|none         M-mode firmware loaded at 0x80000000 (OpenSBI fw_dynamic/fw_jump)\n\
         \x20 -kernel FILE            RISC-V Linux Image (loaded at 0x80200000)\n\
         \x20 -initrd FILE            initial ramdisk\n\
         \x20 -append STRING          kernel command line\n\
         \x20 -drive file=F,format=raw,if=none,id=ID[,snapshot=on][,readonly=on]\n\
         \x20 -device virtio-blk-device,drive=ID | virtio-rng-device\n\
         \x20 -device virtio-net-device[,netdev=ID][,mac=52:54:00:12:34:56]\n\
         \x20                         probes, links up; what it sends is dropped (no network backend yet)\n\
         \x20 -netdev hubport,id=ID,hubid=N   a hub port for one NIC (user, tap, socket: not implemented)\n\
         \x20 -device virtio-serial-device -device virtconsole,chardev=ID   the guest's /dev/hvc0\n\
         \x20 -chardev file,id=ID,path=F[,append=on] | null,id=ID   (stdio carries the serial console)\n\
         \x20 -d ITEMS, -D FILE       debug log (-d help lists the items)\n\
         \x20 -s, -S, -gdb DEV        gdb stub\n\
         heron options:\n\
         \x20 --tier interp|jit|auto  execution tier (HERON_TIER)\n\
         \x20 auto tier: the interpreter runs a block first, the quick tier (a one-pass x86-64\n\
         \x20 code generator) compiles it, and Cranelift recompiles it when hot:\n",
    );
    s.push_str(&format!(
        "  --quick-threshold N     interpreted runs before the quick tier compiles a block (0: off; default {})\n\
         \x20 --promote-threshold N   quick-tier runs before Cranelift recompiles it (0: never; default {})\n\
         \x20 --jit-threshold N       interpreted runs before Cranelift compiles a block the quick tier does not (default {})\n",
        super::hart::SYSTEM_QUICK_THRESHOLD,
        super::hart::SYSTEM_PROMOTE_THRESHOLD,
        super::hart::SYSTEM_JIT_THRESHOLD
    ));
    s.push_str("Console escapes: Ctrl-A x quits, Ctrl-A h helps, Ctrl-A Ctrl-A sends Ctrl-A.\n");
    s
}

/// Splits `a,b=c,d=e` into the leading implied value and key=value pairs.
fn split_props(s: &str) -> Vec<(&str, Option<&str>)> {
    s.split(',')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        })
        .collect()
}

fn on_off(opt: &str, key: &str, v: Option<&str>) -> Result<bool, CliError> {
    match v {
        None | Some("on") | Some("yes") | Some("true") => Ok(true),
        Some("off") | Some("no") | Some("false") => Ok(false),
        Some(x) => Err(usage(format!("{opt}: {key}={x}: expected 'on' or 'off'"))),
    }
}

fn parse_drive(s: &str) -> Result<DriveArg, CliError> {
    let mut file = None;
    let mut id = None;
    let mut snapshot = false;
    let mut read_only = false;
    for (k, v) in split_props(s) {
        match (k, v) {
            ("file", Some(f)) if !f.is_empty() => file = Some(PathBuf::from(f)),
            ("format", Some("raw")) => {}
            ("format", Some(f)) => {
                return Err(usage(format!(
                    "-drive: format={f} is not supported (only format=raw)"
                )));
            }
            ("if", Some("none")) => {}
            ("if", Some(i)) => {
                return Err(usage(format!(
                    "-drive: if={i} is not supported (use if=none with -device virtio-blk-device)"
                )));
            }
            ("id", Some(i)) if !i.is_empty() => id = Some(i.to_string()),
            ("snapshot", v) => snapshot = on_off("-drive", "snapshot", v)?,
            ("readonly", v) => read_only = on_off("-drive", "readonly", v)?,
            (k, _) => {
                return Err(usage(format!(
                    "-drive: unsupported parameter '{k}' in '{s}'"
                )));
            }
        }
    }
    let file = file.ok_or_else(|| usage(format!("-drive {s}: file= is required")))?;
    let id = id.ok_or_else(|| usage(format!("-drive {s}: id= is required")))?;
    Ok(DriveArg {
        file,
        id,
        snapshot,
        read_only,
    })
}

fn parse_device(s: &str) -> Result<DeviceArg, CliError> {
    let props = split_props(s);
    let (name, rest) = match props.split_first() {
        Some(((n, None), rest)) => (*n, rest),
        _ => {
            return Err(usage(format!(
                "-device '{s}': expected a device name first"
            )));
        }
    };
    match name {
        "virtio-blk-device" => {
            let mut drive = None;
            for (k, v) in rest {
                match (*k, *v) {
                    ("drive", Some(d)) => drive = Some(d.to_string()),
                    (k, _) => {
                        return Err(usage(format!(
                            "-device virtio-blk-device: unsupported property '{k}'"
                        )));
                    }
                }
            }
            let drive =
                drive.ok_or_else(|| usage("-device virtio-blk-device: drive= is required"))?;
            Ok(DeviceArg::VirtioBlk { drive })
        }
        "virtio-rng-device" => match rest.first() {
            None => Ok(DeviceArg::VirtioRng),
            Some((k, _)) => Err(usage(format!(
                "-device virtio-rng-device: unsupported property '{k}'"
            ))),
        },
        "virtio-net-device" => parse_net_device(rest),
        "virtio-serial-device" => match rest.iter().find(|(k, _)| *k != "id") {
            None => Ok(DeviceArg::VirtioSerial),
            Some((k, _)) => Err(usage(format!(
                "-device virtio-serial-device: unsupported property '{k}'"
            ))),
        },
        "virtconsole" => parse_virtconsole(rest),
        "help" => Err(usage(format!("-device: supported devices: {DEVICES}"))),
        other => Err(usage(format!(
            "-device: unsupported device '{other}' (supported: {DEVICES})"
        ))),
    }
}

/// The `-device` names heron knows.
const DEVICES: &str =
    "virtio-blk-device, virtio-rng-device, virtio-net-device, virtio-serial-device, virtconsole";

/// QEMU's first default MAC address; the n-th NIC without `mac=` gets this + n.
pub const DEFAULT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// Parses a MAC address `xx:xx:xx:xx:xx:xx` (or with `-`); it must be a unicast address
/// other than 00:00:00:00:00:00 (a guest driver would replace it with a random one).
fn parse_mac(s: &str) -> Result<[u8; 6], CliError> {
    let bad = || {
        usage(format!(
            "-device virtio-net-device: mac={s}: expected six hex bytes like 52:54:00:12:34:56"
        ))
    };
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(usage(format!(
            "-device virtio-net-device: mac={s}: not a unicast address"
        )));
    }
    Ok(mac)
}

/// The properties of `-device virtio-net-device`.
fn parse_net_device(props: &[(&str, Option<&str>)]) -> Result<DeviceArg, CliError> {
    let mut netdev = None;
    let mut mac = None;
    for (k, v) in props {
        match (*k, *v) {
            ("netdev", Some(n)) if !n.is_empty() => netdev = Some(n.to_string()),
            ("mac", Some(m)) => mac = Some(parse_mac(m)?),
            ("id", Some(_)) => {}
            (k, _) => {
                return Err(usage(format!(
                    "-device virtio-net-device: unsupported property '{k}'"
                )));
            }
        }
    }
    Ok(DeviceArg::VirtioNet { netdev, mac })
}

/// The properties of `-device virtconsole`.
fn parse_virtconsole(props: &[(&str, Option<&str>)]) -> Result<DeviceArg, CliError> {
    let mut chardev = None;
    for (k, v) in props {
        match (*k, *v) {
            ("chardev", Some(c)) if !c.is_empty() => chardev = Some(c.to_string()),
            ("id", Some(_)) => {}
            ("name" | "nr", _) => {
                return Err(usage(format!(
                    "-device virtconsole: property '{k}' is not supported (heron's virtio-console has one unnamed port)"
                )));
            }
            (k, _) => {
                return Err(usage(format!(
                    "-device virtconsole: unsupported property '{k}'"
                )));
            }
        }
    }
    let chardev = chardev.ok_or_else(|| usage("-device virtconsole: chardev= is required"))?;
    Ok(DeviceArg::VirtConsole { chardev })
}

/// `-netdev TYPE,id=ID,...`: only `hubport`; the real backends are refused by name.
fn parse_netdev(s: &str) -> Result<NetdevArg, CliError> {
    let props = split_props(s);
    let kind = match props.first() {
        Some((k, None)) => *k,
        Some((k, Some(v))) if *k == "type" => v,
        _ => {
            return Err(usage(format!(
                "-netdev '{s}': expected a backend type first"
            )));
        }
    };
    match kind {
        "hubport" => {}
        "user" => {
            return Err(usage(
                "-netdev user: user-mode networking is not implemented in heron (a virtio-net-device without netdev=, or on a -netdev hubport, probes, links up and drops what it sends)",
            ));
        }
        "tap" | "bridge" | "socket" | "stream" | "dgram" | "l2tpv3" | "vde" | "vhost-user"
        | "vhost-vdpa" | "netmap" | "af-xdp" | "vmnet-host" | "vmnet-shared" | "vmnet-bridged" => {
            return Err(usage(format!(
                "-netdev {kind}: not implemented in heron (only hubport; no network backend yet)"
            )));
        }
        other => {
            return Err(usage(format!(
                "-netdev: unknown network backend '{other}' (heron has only hubport)"
            )));
        }
    }
    let mut id = None;
    let mut hubid = None;
    for (k, v) in &props[1..] {
        match (*k, *v) {
            ("id", Some(i)) if !i.is_empty() => id = Some(i.to_string()),
            ("hubid", Some(h)) => {
                hubid = Some(h.parse::<u32>().map_err(|_| {
                    usage(format!("-netdev hubport: hubid={h}: expected a number"))
                })?);
            }
            (k, _) => {
                return Err(usage(format!(
                    "-netdev hubport: unsupported property '{k}'"
                )));
            }
        }
    }
    Ok(NetdevArg {
        id: id.ok_or_else(|| usage("-netdev hubport: id= is required"))?,
        hubid: hubid.ok_or_else(|| usage("-netdev hubport: hubid= is required"))?,
    })
}

/// `-chardev BACKEND,id=ID,...`: `file` and `null`.
fn parse_chardev(s: &str) -> Result<ChardevArg, CliError> {
    let props = split_props(s);
    let kind = match props.first() {
        Some((k, None)) => *k,
        Some((k, Some(v))) if *k == "backend" => v,
        _ => {
            return Err(usage(format!("-chardev '{s}': expected a backend first")));
        }
    };
    match kind {
        "file" | "null" => {}
        "stdio" => {
            return Err(usage(
                "-chardev stdio: stdin/stdout already carry the serial console (as with QEMU's -nographic); use -chardev file or null",
            ));
        }
        "socket" | "pty" | "pipe" | "udp" | "serial" | "tty" | "parallel" | "parport"
        | "ringbuf" | "memory" | "vc" | "mux" | "msmouse" | "wctablet" | "braille" | "testdev"
        | "spicevmc" | "spiceport" | "dbus" | "qemu-vdagent" => {
            return Err(usage(format!(
                "-chardev {kind}: not implemented in heron (supported: file, null)"
            )));
        }
        other => {
            return Err(usage(format!(
                "-chardev: unknown backend '{other}' (supported: file, null)"
            )));
        }
    }
    let mut id = None;
    let mut path = None;
    let mut append = false;
    for (k, v) in &props[1..] {
        match (kind, *k, *v) {
            (_, "id", Some(i)) if !i.is_empty() => id = Some(i.to_string()),
            ("file", "path", Some(p)) if !p.is_empty() => path = Some(PathBuf::from(p)),
            ("file", "append", v) => append = on_off("-chardev file", "append", v)?,
            (_, k, _) => {
                return Err(usage(format!(
                    "-chardev {kind}: unsupported property '{k}'"
                )));
            }
        }
    }
    let id = id.ok_or_else(|| usage(format!("-chardev {kind}: id= is required")))?;
    let backend = match kind {
        "file" => ChardevBackend::File {
            path: path.ok_or_else(|| usage("-chardev file: path= is required"))?,
            append,
        },
        _ => ChardevBackend::Null,
    };
    Ok(ChardevArg { id, backend })
}

/// Cross-checks of NICs, netdevs, consoles and chardevs: every reference resolves, nothing
/// is used twice, and what heron cannot do (frames between NICs on one hub, more than one
/// virtio-serial bus, a bus without its console) is refused.
fn check_net_and_console(cfg: &SystemConfig) -> Result<(), CliError> {
    for (n, d) in cfg.netdevs.iter().enumerate() {
        if cfg.netdevs[..n].iter().any(|x| x.id == d.id) {
            return Err(usage(format!("-netdev: duplicate id '{}'", d.id)));
        }
    }
    let mut used: Vec<&NetdevArg> = vec![];
    for d in &cfg.devices {
        if let DeviceArg::VirtioNet {
            netdev: Some(id), ..
        } = d
        {
            let Some(nd) = cfg.netdevs.iter().find(|x| &x.id == id) else {
                return Err(usage(format!(
                    "-device virtio-net-device,netdev={id}: no -netdev with id={id}"
                )));
            };
            if used.iter().any(|x| x.id == nd.id) {
                return Err(usage(format!(
                    "-netdev {id}: used by more than one -device"
                )));
            }
            if used.iter().any(|x| x.hubid == nd.hubid) {
                return Err(usage(format!(
                    "-netdev hubport,hubid={}: forwarding frames between NICs on one hub is not implemented",
                    nd.hubid
                )));
            }
            used.push(nd);
        }
    }
    for (n, c) in cfg.chardevs.iter().enumerate() {
        if cfg.chardevs[..n].iter().any(|x| x.id == c.id) {
            return Err(usage(format!("-chardev: duplicate id '{}'", c.id)));
        }
    }
    let buses = cfg
        .devices
        .iter()
        .filter(|d| matches!(d, DeviceArg::VirtioSerial))
        .count();
    let consoles: Vec<&String> = cfg
        .devices
        .iter()
        .filter_map(|d| match d {
            DeviceArg::VirtConsole { chardev } => Some(chardev),
            _ => None,
        })
        .collect();
    for (n, c) in consoles.iter().enumerate() {
        if !cfg.chardevs.iter().any(|x| &x.id == *c) {
            return Err(usage(format!(
                "-device virtconsole,chardev={c}: no -chardev with id={c}"
            )));
        }
        if consoles[..n].contains(c) {
            return Err(usage(format!(
                "-chardev {c}: used by more than one -device"
            )));
        }
    }
    if buses > 1 {
        return Err(usage(
            "-device virtio-serial-device: more than one is not implemented",
        ));
    }
    if consoles.len() > buses {
        return Err(usage(if buses == 0 {
            "-device virtconsole: needs a -device virtio-serial-device"
        } else {
            "-device virtconsole: more than one port per virtio-serial-device is not implemented (heron's virtio-console is single-port)"
        }));
    }
    if consoles.len() < buses {
        return Err(usage(
            "-device virtio-serial-device: needs a -device virtconsole,chardev=ID (heron's virtio-console always has its one port)",
        ));
    }
    Ok(())
}

/// The MAC of each virtio-net in command-line order: `mac=` or QEMU's default sequence.
pub fn nic_macs(cfg: &SystemConfig) -> Vec<[u8; 6]> {
    let mut next = DEFAULT_MAC;
    let mut out = vec![];
    for d in &cfg.devices {
        if let DeviceArg::VirtioNet { mac, .. } = d {
            out.push(mac.unwrap_or_else(|| {
                let m = next;
                next[5] = next[5].wrapping_add(1);
                m
            }));
        }
    }
    out
}

/// Options that take a value (canonical single-dash spelling).
const VALUE_OPTS: &[&str] = &[
    "-M",
    "-machine",
    "-accel",
    "-nic",
    "-smp",
    "-m",
    "-bios",
    "-kernel",
    "-initrd",
    "-append",
    "-drive",
    "-device",
    "-netdev",
    "-net",
    "-chardev",
    "-d",
    "-D",
    "-gdb",
    "-tier",
    "-jit-threshold",
    "-quick-threshold",
    "-promote-threshold",
    "-cpu",
];

/// Parses the arguments after `heron system riscv64` (or after `heron-system-riscv64`).
/// `env` looks up environment variables (HERON_TIER).
pub fn parse(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SystemRequest, CliError> {
    let mut cfg = SystemConfig::default();
    let mut tier_name = env("HERON_TIER");
    let mut bios_given = false;
    let mut i = 0;
    while i < args.len() {
        let raw = args[i]
            .to_str()
            .ok_or_else(|| usage(format!("invalid (non UTF-8) argument {:?}", args[i])))?;
        i += 1;
        if !raw.starts_with('-') || raw == "-" {
            return Err(usage(format!(
                "unexpected argument '{raw}' (options start with '-')"
            )));
        }
        // QEMU accepts `--opt` as `-opt`; heron's own options also take `--opt=value`.
        let word = if raw.starts_with("--") {
            &raw[1..]
        } else {
            raw
        };
        let (opt, inline) = match word.split_once('=') {
            Some((o, v)) if VALUE_OPTS.contains(&o) => (o, Some(v.to_string())),
            _ => (word, None),
        };
        let value = if VALUE_OPTS.contains(&opt) {
            match inline {
                Some(v) => Some(v),
                None => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| usage(format!("{raw}: requires an argument")))?;
                    i += 1;
                    Some(
                        v.to_str()
                            .ok_or_else(|| usage(format!("{raw}: argument is not UTF-8")))?
                            .to_string(),
                    )
                }
            }
        } else {
            None
        };
        let v = value.as_deref().unwrap_or("");
        match opt {
            "-h" | "-help" => return Ok(SystemRequest::Print(help_text())),
            "-version" => {
                return Ok(SystemRequest::Print(format!(
                    "heron {} (qemu-system-riscv64 compatible command line)\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            "-M" | "-machine" => {
                let props = split_props(v);
                match props.first() {
                    Some(("help", None)) => {
                        return Ok(SystemRequest::Print(
                            "Supported machines are:\nvirt                 RISC-V VirtIO board\n"
                                .into(),
                        ));
                    }
                    Some(("virt", None)) | Some(("type", Some("virt"))) => {}
                    Some((m, _)) => {
                        return Err(usage(format!(
                            "{opt}: unsupported machine '{m}' (only 'virt')"
                        )));
                    }
                    None => {}
                }
                if let Some((k, _)) = props.get(1) {
                    return Err(usage(format!("{opt}: unsupported machine property '{k}'")));
                }
            }
            "-accel" => {
                if v != "tcg" && !v.starts_with("tcg,") {
                    return Err(usage(format!(
                        "-accel: unsupported accelerator '{v}' (only tcg)"
                    )));
                }
                if let Some((k, _)) = split_props(v).get(1) {
                    return Err(usage(format!("-accel: unsupported property '{k}'")));
                }
            }
            "-cpu" => {
                if !matches!(v, "rv64" | "max") {
                    return Err(usage(format!("-cpu: unsupported CPU '{v}' (rv64 or max)")));
                }
            }
            "-nographic" => {}
            "-no-reboot" => cfg.no_reboot = true,
            "-perfmap" => cfg.perfmap = true,
            "-nic" => {
                if v != "none" {
                    return Err(usage(format!(
                        "-nic {v}: networking is not supported (only -nic none)"
                    )));
                }
            }
            "-smp" => {
                let mut n = None;
                for (k, val) in split_props(v) {
                    match (k, val) {
                        (c, None) => n = Some(c),
                        ("cpus", Some(c)) => n = Some(c),
                        (k, _) => {
                            return Err(usage(format!("-smp: unsupported property '{k}'")));
                        }
                    }
                }
                cfg.harts = match n.and_then(|c| c.parse::<usize>().ok()) {
                    Some(h) if (1..=64).contains(&h) => h,
                    _ => return Err(usage(format!("-smp {v}: expected 1 to 64 CPUs"))),
                };
            }
            "-m" => {
                let s = v.strip_prefix("size=").unwrap_or(v);
                // QEMU: a plain number means MiB.
                let size = if s.chars().all(|c| c.is_ascii_digit()) {
                    s.parse::<u64>().ok().and_then(|m| m.checked_mul(1 << 20))
                } else {
                    parse_size(s)
                };
                cfg.ram_size = match size {
                    Some(b) if (16 << 20..=16 << 30).contains(&b) && b % 4096 == 0 => b,
                    _ => {
                        return Err(usage(format!(
                            "-m {v}: expected a RAM size from 16M to 16G"
                        )));
                    }
                };
            }
            "-bios" => {
                bios_given = true;
                cfg.bios = (v != "none").then(|| PathBuf::from(v));
            }
            "-kernel" => cfg.kernel = Some(PathBuf::from(v)),
            "-initrd" => cfg.initrd = Some(PathBuf::from(v)),
            "-append" => cfg.append = v.to_string(),
            "-drive" => cfg.drives.push(parse_drive(v)?),
            "-device" => cfg.devices.push(parse_device(v)?),
            "-netdev" => cfg.netdevs.push(parse_netdev(v)?),
            "-net" => {
                if v != "none" {
                    return Err(usage(format!(
                        "-net {v}: only -net none (use -device virtio-net-device)"
                    )));
                }
            }
            "-chardev" => cfg.chardevs.push(parse_chardev(v)?),
            "-d" => {
                if v == "help" {
                    let mut s = String::from("Log items (comma separated):\n");
                    for (n, h) in SYSTEM_LOG_ITEMS {
                        s.push_str(&format!("{n:<13} {h}\n"));
                    }
                    return Ok(SystemRequest::Print(s));
                }
                for it in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                    if !SYSTEM_LOG_ITEMS.iter().any(|(n, _)| *n == it) {
                        return Err(usage(format!("-d: unknown log item '{it}' (try -d help)")));
                    }
                    if !cfg.log_items.iter().any(|x| x == it) {
                        cfg.log_items.push(it.to_string());
                    }
                }
            }
            "-D" => cfg.log_file = Some(PathBuf::from(v)),
            "-s" => cfg.gdb = Some("tcp::1234".into()),
            "-S" => cfg.wait_for_gdb = true,
            "-gdb" => cfg.gdb = Some(v.to_string()),
            "-tier" => tier_name = Some(v.to_string()),
            "-jit-threshold" | "-quick-threshold" | "-promote-threshold" => {
                let n = v
                    .parse()
                    .map_err(|_| usage(format!("-{opt} {v}: expected a number")))?;
                let slot = match opt {
                    "-jit-threshold" => &mut cfg.jit_threshold,
                    "-quick-threshold" => &mut cfg.quick_threshold,
                    _ => &mut cfg.promote_threshold,
                };
                *slot = Some(n);
            }
            _ => {
                return Err(usage(format!("unsupported option '{raw}' (try -help)")));
            }
        }
    }
    if let Some(t) = tier_name {
        cfg.tier = t
            .parse()
            .map_err(|e: String| usage(format!("--tier: {e}")))?;
    }
    // Every virtio-blk names an existing drive, every drive is used exactly once.
    for d in &cfg.devices {
        if let DeviceArg::VirtioBlk { drive } = d
            && !cfg.drives.iter().any(|x| &x.id == drive)
        {
            return Err(usage(format!(
                "-device virtio-blk-device,drive={drive}: no -drive with id={drive}"
            )));
        }
    }
    for (n, d) in cfg.drives.iter().enumerate() {
        if cfg.drives[..n].iter().any(|x| x.id == d.id) {
            return Err(usage(format!("-drive: duplicate id '{}'", d.id)));
        }
        let users = cfg
            .devices
            .iter()
            .filter(|x| matches!(x, DeviceArg::VirtioBlk { drive } if *drive == d.id))
            .count();
        if users != 1 {
            return Err(usage(format!(
                "-drive id={}: must be used by exactly one -device virtio-blk-device (used {users} times)",
                d.id
            )));
        }
    }
    check_net_and_console(&cfg)?;
    if !bios_given && cfg.kernel.is_none() {
        return Err(usage(
            "nothing to boot: give -bios FILE and/or -kernel FILE (heron has no built-in firmware)",
        ));
    }
    if !bios_given && cfg.kernel.is_some() {
        return Err(usage(
            "-bios is required with -kernel: heron has no built-in OpenSBI (use e.g. -bios fw_dynamic.bin, or -bios none)",
        ));
    }
    if cfg.initrd.is_some() && cfg.kernel.is_none() {
        return Err(usage("-initrd requires -kernel"));
    }
    Ok(SystemRequest::Run(Box::new(cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }
    fn run(v: &[&str]) -> Result<SystemConfig, CliError> {
        match parse(&os(v), &|_| None)? {
            SystemRequest::Run(c) => Ok(*c),
            SystemRequest::Print(s) => panic!("printed {s}"),
        }
    }
    fn err(v: &[&str]) -> String {
        let e = run(v).expect_err("should fail");
        assert_eq!(e.status, 2);
        assert!(!e.msg.contains('\n'), "one line: {}", e.msg);
        e.msg
    }

    /// The README's command line, verbatim.
    #[test]
    fn readme_command_line() {
        let c = run(&[
            "-M",
            "virt",
            "-accel",
            "tcg",
            "-nographic",
            "-no-reboot",
            "-nic",
            "none",
            "-smp",
            "2",
            "-m",
            "256M",
            "-bios",
            "riscv64/fw_dynamic.bin",
            "-kernel",
            "riscv64/Image",
            "-initrd",
            "riscv64/initramfs.cpio.gz",
            "-append",
            "console=ttyS0 panic=-1 ci=1",
            "-drive",
            "file=disk.img,format=raw,if=none,id=hd0",
            "-device",
            "virtio-blk-device,drive=hd0",
            "-device",
            "virtio-rng-device",
        ])
        .unwrap();
        assert_eq!(c.harts, 2);
        assert_eq!(c.ram_size, 256 << 20);
        assert_eq!(c.bios, Some(PathBuf::from("riscv64/fw_dynamic.bin")));
        assert_eq!(c.kernel, Some(PathBuf::from("riscv64/Image")));
        assert_eq!(c.initrd, Some(PathBuf::from("riscv64/initramfs.cpio.gz")));
        assert_eq!(c.append, "console=ttyS0 panic=-1 ci=1");
        assert!(c.no_reboot);
        assert_eq!(
            c.drives,
            [DriveArg {
                file: "disk.img".into(),
                id: "hd0".into(),
                snapshot: false,
                read_only: false
            }]
        );
        assert_eq!(
            c.devices,
            [
                DeviceArg::VirtioBlk {
                    drive: "hd0".into()
                },
                DeviceArg::VirtioRng
            ]
        );
        assert_eq!(c.tier, Tier::Auto);
    }

    #[test]
    fn variants_and_heron_options() {
        let c = run(&[
            "--machine",
            "virt",
            "-bios",
            "none",
            "-kernel",
            "k",
            "-m",
            "64",
            "-smp",
            "cpus=3",
            "-drive",
            "file=d,id=x,format=raw,if=none,snapshot=on",
            "-device",
            "virtio-blk-device,drive=x",
            "--tier=interp",
            "-jit-threshold",
            "7",
            "--quick-threshold=0",
            "-promote-threshold",
            "9",
            "-d",
            "int,exec",
            "-D",
            "/tmp/log",
            "-s",
            "-S",
        ])
        .unwrap();
        assert_eq!(c.bios, None);
        assert_eq!(c.ram_size, 64 << 20);
        assert_eq!(c.harts, 3);
        assert!(c.drives[0].snapshot);
        assert_eq!(c.tier, Tier::Interp);
        assert_eq!(c.jit_threshold, Some(7));
        assert_eq!(c.quick_threshold, Some(0));
        assert_eq!(c.promote_threshold, Some(9));
        assert_eq!(c.log_items, ["int", "exec"]);
        assert_eq!(c.gdb.as_deref(), Some("tcp::1234"));
        assert!(c.wait_for_gdb);
        let env = |k: &str| (k == "HERON_TIER").then(|| "jit".to_string());
        let SystemRequest::Run(c) = parse(&os(&["-bios", "fw"]), &env).unwrap() else {
            panic!()
        };
        assert_eq!(c.tier, Tier::Jit);
    }

    #[test]
    fn errors_name_the_option() {
        assert!(err(&["-bios", "f", "-vga", "none"]).contains("'-vga'"));
        assert!(err(&["-bios", "f", "--frobnicate"]).contains("'--frobnicate'"));
        assert!(err(&["-M", "sifive_u", "-bios", "f"]).contains("sifive_u"));
        assert!(err(&["-M", "virt,aia=aplic", "-bios", "f"]).contains("aia"));
        assert!(err(&["-accel", "kvm", "-bios", "f"]).contains("kvm"));
        assert!(err(&["-nic", "user", "-bios", "f"]).contains("-nic"));
        assert!(err(&["-bios", "f", "-smp", "0"]).contains("-smp"));
        assert!(err(&["-bios", "f", "-m", "lots"]).contains("-m"));
        assert!(err(&["-bios", "f", "-drive", "file=x,format=qcow2,id=a"]).contains("qcow2"));
        assert!(err(&["-bios", "f", "-drive", "file=x,cache=none,id=a"]).contains("cache"));
        assert!(err(&["-bios", "f", "-device", "virtio-gpu-device"]).contains("virtio-gpu"));
        assert!(err(&["-bios", "f", "-device", "virtio-blk-device,drive=zz"]).contains("zz"));
        assert!(err(&["-bios", "f", "-drive", "file=x,id=a"]).contains("id=a"));
        assert!(err(&["-bios", "f", "-d", "bogus"]).contains("bogus"));
        assert!(err(&["-bios", "f", "-tier", "fast"]).contains("fast"));
        for opt in [
            "--jit-threshold",
            "--quick-threshold",
            "--promote-threshold",
        ] {
            let e = err(&["-bios", "f", opt, "many"]);
            assert!(e.contains(opt) && e.contains("expected a number"), "{e}");
        }
        assert!(err(&["-bios"]).contains("requires an argument"));
        assert!(err(&["-bios", "f", "stray"]).contains("stray"));
        assert!(err(&["-kernel", "k"]).contains("-bios"));
        assert!(err(&[]).contains("nothing to boot"));
    }

    #[test]
    fn net_and_console_options() {
        let c = run(&[
            "-bios",
            "f",
            "-nic",
            "none",
            "-net",
            "none",
            "-netdev",
            "hubport,id=n0,hubid=3",
            "-device",
            "virtio-net-device,netdev=n0,mac=52:54:00:AB:cd:0f,id=nic0",
            "-device",
            "virtio-net-device",
            "-device",
            "virtio-net-device,mac=02-00-00-00-00-01",
            "-device",
            "virtio-net-device",
            "-device",
            "virtio-serial-device,id=vs0",
            "-chardev",
            "file,id=c0,path=/tmp/hvc.txt,append=on",
            "-chardev",
            "null,id=c1",
            "-device",
            "virtconsole,chardev=c0,id=con0",
        ])
        .unwrap();
        assert_eq!(
            c.netdevs,
            [NetdevArg {
                id: "n0".into(),
                hubid: 3
            }]
        );
        assert_eq!(
            c.devices[0],
            DeviceArg::VirtioNet {
                netdev: Some("n0".into()),
                mac: Some([0x52, 0x54, 0, 0xab, 0xcd, 0x0f])
            }
        );
        assert_eq!(
            nic_macs(&c),
            [
                [0x52, 0x54, 0, 0xab, 0xcd, 0x0f],
                [0x52, 0x54, 0, 0x12, 0x34, 0x56],
                [2, 0, 0, 0, 0, 1],
                [0x52, 0x54, 0, 0x12, 0x34, 0x57],
            ]
        );
        assert_eq!(c.devices[4], DeviceArg::VirtioSerial);
        assert_eq!(
            c.devices[5],
            DeviceArg::VirtConsole {
                chardev: "c0".into()
            }
        );
        assert_eq!(
            c.chardevs,
            [
                ChardevArg {
                    id: "c0".into(),
                    backend: ChardevBackend::File {
                        path: "/tmp/hvc.txt".into(),
                        append: true
                    }
                },
                ChardevArg {
                    id: "c1".into(),
                    backend: ChardevBackend::Null
                }
            ]
        );
        let e = |extra: &[&str]| {
            let mut v = vec!["-bios", "f"];
            v.extend_from_slice(extra);
            err(&v)
        };
        assert!(
            e(&["-netdev", "user,id=n0"])
                .contains("-netdev user: user-mode networking is not implemented")
        );
        assert!(e(&["-netdev", "tap,id=n0,ifname=tap0"]).contains("-netdev tap: not implemented"));
        assert!(e(&["-netdev", "bogus,id=n0"]).contains("'bogus'"));
        assert!(e(&["-netdev", "hubport,id=n0"]).contains("hubid="));
        assert!(e(&["-netdev", "hubport,hubid=0"]).contains("id="));
        assert!(e(&["-netdev", "hubport,id=n0,hubid=0,x=1"]).contains("'x'"));
        assert!(e(&["-net", "nic"]).contains("-net nic"));
        let hub = ["-netdev", "hubport,id=a,hubid=0"];
        assert!(
            e(&[&hub[..], &["-netdev", "hubport,id=a,hubid=1"]].concat())
                .contains("duplicate id 'a'")
        );
        assert!(
            e(&[
                &hub[..],
                &[
                    "-device",
                    "virtio-net-device,netdev=a",
                    "-device",
                    "virtio-net-device,netdev=a"
                ]
            ]
            .concat())
            .contains("more than one")
        );
        assert!(e(&["-device", "virtio-net-device,netdev=zz"]).contains("no -netdev with id=zz"));
        for bad in [
            "52:54:00:12:34",
            "52:54:00:12:34:5g",
            "52:54:00:12:34:567",
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
        ] {
            assert!(
                e(&["-device", &format!("virtio-net-device,mac={bad}")]).contains("mac="),
                "{bad}"
            );
        }
        assert!(e(&["-device", "virtio-net-device,vectors=2"]).contains("'vectors'"));
        assert!(e(&["-chardev", "stdio,id=c"]).contains("serial console"));
        assert!(e(&["-chardev", "pty,id=c"]).contains("-chardev pty: not implemented"));
        assert!(e(&["-chardev", "file,id=c"]).contains("path="));
        assert!(e(&["-chardev", "file,path=x"]).contains("id="));
        assert!(e(&["-chardev", "file,id=c,path=x,input-path=y"]).contains("'input-path'"));
        assert!(
            e(&["-chardev", "null,id=c", "-chardev", "null,id=c"]).contains("duplicate id 'c'")
        );
        let ser = ["-chardev", "null,id=c", "-device", "virtio-serial-device"];
        assert!(e(&ser).contains("needs a -device virtconsole"));
        assert!(
            e(&[
                &ser[..],
                &[
                    "-device",
                    "virtconsole,chardev=c",
                    "-device",
                    "virtconsole,chardev=c"
                ]
            ]
            .concat())
            .contains("more than one")
        );
        assert!(
            e(&[&ser[..], &["-device", "virtconsole,chardev=x"]].concat())
                .contains("no -chardev with id=x")
        );
        assert!(
            e(&[&ser[..], &["-device", "virtconsole"]].concat()).contains("chardev= is required")
        );
        assert!(
            e(&[
                &ser[..],
                &["-device", "virtconsole,chardev=c,name=org.qemu.console.0"]
            ]
            .concat())
            .contains("'name'")
        );
        assert!(
            e(&["-chardev", "null,id=c", "-device", "virtconsole,chardev=c"])
                .contains("needs a -device virtio-serial-device")
        );
        assert!(
            e(&[
                &ser[..],
                &[
                    "-device",
                    "virtconsole,chardev=c",
                    "-device",
                    "virtio-serial-device"
                ]
            ]
            .concat())
            .contains("more than one")
        );
        assert!(e(&["-device", "virtio-serial-device,max_ports=2"]).contains("'max_ports'"));
    }

    #[test]
    fn help_requests() {
        for v in [
            &["-d", "help"][..],
            &["-M", "help"],
            &["-help"],
            &["--help"],
            &["-version"],
        ] {
            assert!(matches!(
                parse(&os(v), &|_| None),
                Ok(SystemRequest::Print(_))
            ));
        }
        // The help states the default the hart really uses.
        let default = format!("default {})", super::super::hart::SYSTEM_JIT_THRESHOLD);
        assert!(help_text().contains(&default), "{}", help_text());
    }
}
