//! The eBPF loader of `memlink leaks`: loads the committed object `bpf/leaks.bpf.o` with `aya`,
//! attaches exact mode's uprobes through the perf-event uprobe PMU (always with the target's
//! PID, never system-wide) and the raw tracepoints `sys_enter`, `sys_exit` and
//! `sched_process_exec` (`BPF_RAW_TRACEPOINT_OPEN`: no tracefs; the programs filter on the
//! target's PID first), and reads the ring buffer. Every link is owned by a file descriptor of
//! this process, so the kernel removes the probes when memlink exits or dies.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use aya::maps::{Array, MapData, RingBuf};
use aya::programs::{RawTracePoint, UProbe};
use aya::{Ebpf, EbpfLoader};

use crate::error::{Error, Result};

/// Bytes of user stack the probes copy at most (`STACK_BYTES` in `bpf/leaks.bpf.c`).
pub const STACK_BYTES: usize = 8192;

/// The compiled probes, as committed.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../../../../bpf/leaks.bpf.o");

/// Which entry program a probe runs: how it reads the call's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeProgram {
    /// `malloc(size)` and every call shaped like it.
    Malloc,
    /// `calloc(n, size)`.
    Calloc,
    /// `realloc(ptr, size)`.
    Realloc,
    /// `reallocarray(ptr, n, size)`.
    ReallocArray,
    /// `memalign(align, size)`, `aligned_alloc(align, size)`.
    Memalign,
    /// `posix_memalign(out, align, size)`.
    PosixMemalign,
    /// `free(ptr)` and every call shaped like it.
    Free,
}

impl ProbeProgram {
    fn entry(self) -> &'static str {
        match self {
            ProbeProgram::Malloc => "malloc_enter",
            ProbeProgram::Calloc => "calloc_enter",
            ProbeProgram::Realloc => "realloc_enter",
            ProbeProgram::ReallocArray => "reallocarray_enter",
            ProbeProgram::Memalign => "memalign_enter",
            ProbeProgram::PosixMemalign => "posix_memalign_enter",
            ProbeProgram::Free => "free_enter",
        }
    }
    fn exit(self) -> Option<&'static str> {
        match self {
            ProbeProgram::Free => None,
            ProbeProgram::PosixMemalign => Some("posix_memalign_return"),
            _ => Some("alloc_return"),
        }
    }
}

/// One decoded ring-buffer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawEvent {
    /// An allocator entry.
    Enter {
        /// Thread.
        tid: u32,
        /// `CLOCK_MONOTONIC` nanoseconds.
        time_ns: u64,
        /// Function class (1 malloc, 2 calloc, 3 realloc, 4 memalign, 5 posix_memalign).
        func: u32,
        /// Requested bytes.
        size: u64,
        /// The pointer given to realloc (0 otherwise).
        old_ptr: u64,
        /// Instruction, stack and frame pointer at the entry.
        ip: u64,
        /// Stack pointer at the entry.
        sp: u64,
        /// Frame pointer register at the entry.
        bp: u64,
        /// Whether the sampler picked it (its stack was asked for).
        sampled: bool,
        /// The copied stack from `sp` upwards (empty when not sampled or unreadable).
        stack: Vec<u8>,
    },
    /// An allocator return.
    Return {
        /// Thread.
        tid: u32,
        /// `CLOCK_MONOTONIC` nanoseconds.
        time_ns: u64,
        /// The returned pointer (0 on failure).
        addr: u64,
    },
    /// A free.
    Free {
        /// Thread.
        tid: u32,
        /// `CLOCK_MONOTONIC` nanoseconds.
        time_ns: u64,
        /// The freed pointer.
        addr: u64,
    },
    /// A watched system call's entry (growth mode's memory calls; new processes in both).
    SysEnter {
        /// Thread.
        tid: u32,
        /// `CLOCK_MONOTONIC` nanoseconds.
        time_ns: u64,
        /// The x86-64 system call number.
        nr: u32,
        /// Its first five arguments.
        args: [u64; 5],
        /// User instruction pointer at the call (after the `syscall` instruction).
        ip: u64,
        /// User stack pointer at the call.
        sp: u64,
        /// User frame pointer register at the call.
        bp: u64,
        /// The copied stack from `sp` upwards (empty when not asked for or unreadable).
        stack: Vec<u8>,
        /// A stack was asked for but nothing was readable.
        stack_unreadable: bool,
    },
    /// A watched system call's return.
    SysExit {
        /// Thread.
        tid: u32,
        /// `CLOCK_MONOTONIC` nanoseconds.
        time_ns: u64,
        /// The return value (a negative errno on failure).
        ret: i64,
    },
    /// The target executed a new program.
    Exec {
        /// Thread.
        tid: u32,
        /// `CLOCK_MONOTONIC` nanoseconds.
        time_ns: u64,
    },
}

impl RawEvent {
    /// The event's time (`CLOCK_MONOTONIC` nanoseconds).
    pub fn time_ns(&self) -> u64 {
        match self {
            RawEvent::Enter { time_ns, .. }
            | RawEvent::Return { time_ns, .. }
            | RawEvent::Free { time_ns, .. }
            | RawEvent::SysEnter { time_ns, .. }
            | RawEvent::SysExit { time_ns, .. }
            | RawEvent::Exec { time_ns, .. } => *time_ns,
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

const ENTER_HEAD: usize = 64;
const SYS_HEAD: usize = 88;

fn stack_of(b: &[u8], head: usize, stack_len: u32) -> Vec<u8> {
    if stack_len != u32::MAX && stack_len as usize <= STACK_BYTES {
        b.get(head..head + stack_len as usize)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    } else {
        Vec::new()
    }
}

/// Decodes one record as `bpf/leaks.bpf.c` lays it out; `None` for a record it does not know.
pub fn decode(b: &[u8]) -> Option<RawEvent> {
    let kind = u32_at(b, 0);
    let tid = u32_at(b, 4);
    let time_ns = u64_at(b, 8);
    match kind {
        1 if b.len() >= ENTER_HEAD => {
            let stack_len = u32_at(b, 20);
            let sampled = stack_len != 0;
            let stack = stack_of(b, ENTER_HEAD, stack_len);
            Some(RawEvent::Enter {
                tid,
                time_ns,
                func: u32_at(b, 16),
                size: u64_at(b, 24),
                old_ptr: u64_at(b, 32),
                ip: u64_at(b, 40),
                sp: u64_at(b, 48),
                bp: u64_at(b, 56),
                sampled,
                stack,
            })
        }
        2 if b.len() >= 24 => Some(RawEvent::Return {
            tid,
            time_ns,
            addr: u64_at(b, 16),
        }),
        3 if b.len() >= 24 => Some(RawEvent::Free {
            tid,
            time_ns,
            addr: u64_at(b, 16),
        }),
        4 if b.len() >= SYS_HEAD => {
            let stack_len = u32_at(b, 20);
            Some(RawEvent::SysEnter {
                tid,
                time_ns,
                nr: u32_at(b, 16),
                args: std::array::from_fn(|i| u64_at(b, 24 + 8 * i)),
                ip: u64_at(b, 64),
                sp: u64_at(b, 72),
                bp: u64_at(b, 80),
                stack: stack_of(b, SYS_HEAD, stack_len),
                stack_unreadable: stack_len == u32::MAX,
            })
        }
        5 if b.len() >= 24 => Some(RawEvent::SysExit {
            tid,
            time_ns,
            ret: u64_at(b, 16) as i64,
        }),
        6 if b.len() >= 16 => Some(RawEvent::Exec { tid, time_ns }),
        _ => None,
    }
}

/// Events the kernel side could not queue because the ring buffer was full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    /// Allocator entries lost.
    pub enters: u64,
    /// Allocator returns lost.
    pub returns: u64,
    /// Frees lost.
    pub frees: u64,
    /// System call events lost (growth mode's memory calls, new processes).
    pub syscalls: u64,
}

/// The loaded probes, attached to one process.
pub struct Probes {
    ebpf: Ebpf,
    ring: RingBuf<MapData>,
    attached: usize,
}

fn bpf_err(op: &str, e: impl std::fmt::Display) -> Error {
    Error::Bpf(format!("{op}: {e}"))
}

/// Program `name` of the object, as its type `P`.
fn program_of<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut P>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program>,
    <&'a mut P as TryFrom<&'a mut aya::programs::Program>>::Error: std::fmt::Display,
{
    ebpf.program_mut(name)
        .ok_or_else(|| bpf_err(name, "missing from the object"))?
        .try_into()
        .map_err(|e| bpf_err(name, e))
}

/// The allocator probes' programs (exact mode).
const UPROBE_PROGRAMS: [&str; 9] = [
    "malloc_enter",
    "calloc_enter",
    "realloc_enter",
    "reallocarray_enter",
    "memalign_enter",
    "posix_memalign_enter",
    "alloc_return",
    "posix_memalign_return",
    "free_enter",
];

/// The raw tracepoints and their programs (both modes).
const TRACEPOINTS: [(&str, &str); 3] = [
    ("sys_enter", "sys_enter"),
    ("sys_exit", "sys_exit"),
    ("sched_process_exec", "process_exec"),
];

impl Probes {
    /// Loads the programs for process `pid`: in growth mode (`growth`) only the system call
    /// programs, else the allocator probes too. `sample_bytes` 0 copies the stack of every
    /// allocation; otherwise `thresholds[i]` is the probability × 2³² that an allocation of a
    /// size in bucket `i` (of `sample_bytes / 64`) carries its stack, `seed` starts the sampler.
    ///
    /// # Errors
    /// [`Error::Bpf`] when the kernel refuses the object (no BPF, no permission, a lockdown).
    pub fn load(
        pid: u32,
        growth: bool,
        sample_bytes: u64,
        thresholds: &[u32; 64],
        seed: u64,
    ) -> Result<Self> {
        let mut ebpf = EbpfLoader::new()
            .load(OBJECT)
            .map_err(|e| bpf_err("loading the BPF object", e))?;
        {
            let ns = std::fs::metadata("/proc/self/ns/pid")
                .map_err(|e| bpf_err("reading memlink's PID namespace", e))?;
            let mut cfg: Array<_, [u64; 6]> = Array::try_from(
                ebpf.map_mut("CONFIG")
                    .ok_or_else(|| bpf_err("map CONFIG", "missing"))?,
            )
            .map_err(|e| bpf_err("map CONFIG", e))?;
            cfg.set(
                0,
                [
                    u64::from(pid),
                    sample_bytes,
                    seed,
                    ns.dev(),
                    ns.ino(),
                    u64::from(growth),
                ],
                0,
            )
            .map_err(|e| bpf_err("map CONFIG", e))?;
        }
        {
            let mut th: Array<_, u32> = Array::try_from(
                ebpf.map_mut("THRESH")
                    .ok_or_else(|| bpf_err("map THRESH", "missing"))?,
            )
            .map_err(|e| bpf_err("map THRESH", e))?;
            for (i, t) in thresholds.iter().enumerate() {
                th.set(i as u32, *t, 0)
                    .map_err(|e| bpf_err("map THRESH", e))?;
            }
        }
        for (_, name) in TRACEPOINTS {
            program_of::<RawTracePoint>(&mut ebpf, name)?
                .load()
                .map_err(|e| bpf_err(&format!("loading {name}"), e))?;
        }
        for name in UPROBE_PROGRAMS.iter().filter(|_| !growth) {
            program_of::<UProbe>(&mut ebpf, name)?
                .load()
                .map_err(|e| bpf_err(&format!("loading {name}"), e))?;
        }
        let ring = RingBuf::try_from(
            ebpf.take_map("EVENTS")
                .ok_or_else(|| bpf_err("map EVENTS", "missing"))?,
        )
        .map_err(|e| bpf_err("map EVENTS", e))?;
        Ok(Probes {
            ebpf,
            ring,
            attached: 0,
        })
    }

    /// Attaches the raw tracepoints: growth mode's memory calls (when loaded for growth), and in
    /// both modes the target's exec and new processes. The programs run for every thread of
    /// the host and return at once for any other process.
    ///
    /// # Errors
    /// [`Error::Bpf`] when the kernel refuses a tracepoint.
    pub fn attach_tracepoints(&mut self) -> Result<()> {
        for (tp, name) in TRACEPOINTS {
            program_of::<RawTracePoint>(&mut self.ebpf, name)?
                .attach(tp)
                .map_err(|e| bpf_err(&format!("attaching the raw tracepoint {tp}"), e))?;
            self.attached += 1;
        }
        Ok(())
    }

    /// Attaches `program` (entry, and its return probe) at byte `offset` of the file `path`,
    /// for process `pid` only.
    ///
    /// # Errors
    /// [`Error::Bpf`] when the kernel refuses the probe.
    pub fn attach(
        &mut self,
        program: ProbeProgram,
        path: &Path,
        offset: u64,
        pid: u32,
    ) -> Result<()> {
        let pid = i32::try_from(pid).map_err(|_| Error::InvalidArgument(format!("PID {pid}")))?;
        for name in std::iter::once(program.entry()).chain(program.exit()) {
            let p = program_of::<UProbe>(&mut self.ebpf, name)?;
            p.attach(None, offset, path, Some(pid)).map_err(|e| {
                bpf_err(
                    &format!("attaching {name} at {}+{offset:#x}", path.display()),
                    e,
                )
            })?;
            self.attached += 1;
        }
        Ok(())
    }

    /// How many probes are attached.
    pub fn attached(&self) -> usize {
        self.attached
    }

    /// Reads every queued record, decoded, into `out`; waits up to `wait` when none is queued.
    pub fn drain(&mut self, out: &mut Vec<RawEvent>, wait: Duration) {
        let before = out.len();
        while let Some(item) = self.ring.next() {
            if let Some(ev) = decode(&item) {
                out.push(ev);
            }
        }
        if out.len() == before {
            std::thread::sleep(wait);
        }
    }

    /// Events lost in the kernel so far.
    pub fn drops(&self) -> Drops {
        let read = |i: u32| -> u64 {
            self.ebpf
                .map("DROPS")
                .and_then(|m| Array::<_, u64>::try_from(m).ok())
                .and_then(|a| a.get(&i, 0).ok())
                .unwrap_or(0)
        };
        Drops {
            enters: read(0),
            returns: read(1),
            frees: read(2),
            syscalls: read(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// The committed object was built from these sources with the pinned compiler: run
    /// `bpf/build.sh` (Debian 12's clang-14) after changing `bpf/leaks.bpf.c` or the script.
    #[test]
    fn object_is_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
        let mut h = Sha256::new();
        for f in ["leaks.bpf.c", "build.sh"] {
            h.update(std::fs::read(dir.join(f)).unwrap());
        }
        let sum: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let recorded = std::fs::read_to_string(dir.join("leaks.bpf.o.sum")).unwrap();
        assert!(
            recorded.contains(&format!("sources: {sum}")),
            "bpf/leaks.bpf.o is stale (sources now {sum}); run bpf/build.sh\n{recorded}"
        );
        assert!(
            recorded.contains("compiler: Debian clang version 14."),
            "bpf/leaks.bpf.o must be built with Debian 12's clang-14\n{recorded}"
        );
        assert!(dir.join("leaks.bpf.o").metadata().unwrap().len() > 0);
    }

    #[test]
    fn records_decode_as_laid_out() {
        let mut b = vec![0u8; 64 + 16];
        b[0] = 1;
        b[4] = 7;
        b[16] = 3;
        b[20] = 16;
        b[24] = 100;
        b[40] = 0x10;
        match super::decode(&b) {
            Some(super::RawEvent::Enter {
                tid,
                func,
                size,
                ip,
                sampled,
                stack,
                ..
            }) => {
                assert_eq!((tid, func, size, ip, sampled), (7, 3, 100, 0x10, true));
                assert_eq!(stack.len(), 16);
            }
            other => panic!("{other:?}"),
        }
        let mut f = vec![0u8; 24];
        f[0] = 3;
        f[16] = 0x20;
        assert!(matches!(
            super::decode(&f),
            Some(super::RawEvent::Free { addr: 0x20, .. })
        ));
        assert_eq!(super::decode(&[9, 0, 0, 0]), None);
    }
}
