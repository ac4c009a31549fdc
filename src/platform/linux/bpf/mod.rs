//! The eBPF loader of `memlink leaks`: loads the committed object `bpf/leaks.bpf.o` with `aya`,
//! attaches its uprobes through the perf-event uprobe PMU (always with the target's PID, never
//! system-wide), and reads the ring buffer. Every link is owned by a file descriptor of this
//! process, so the kernel removes the probes when memlink exits or dies.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use aya::maps::{Array, MapData, RingBuf};
use aya::programs::UProbe;
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

/// Decodes one record as `bpf/leaks.bpf.c` lays it out; `None` for a record it does not know.
pub fn decode(b: &[u8]) -> Option<RawEvent> {
    let kind = u32_at(b, 0);
    let tid = u32_at(b, 4);
    let time_ns = u64_at(b, 8);
    match kind {
        1 if b.len() >= ENTER_HEAD => {
            let stack_len = u32_at(b, 20);
            let sampled = stack_len != 0;
            let stack = if stack_len != u32::MAX && stack_len as usize <= STACK_BYTES {
                b.get(ENTER_HEAD..ENTER_HEAD + stack_len as usize)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
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
}

/// The loaded probes of exact mode, attached to one process.
pub struct ExactProbes {
    ebpf: Ebpf,
    ring: RingBuf<MapData>,
    attached: usize,
}

fn bpf_err(op: &str, e: impl std::fmt::Display) -> Error {
    Error::Bpf(format!("{op}: {e}"))
}

impl ExactProbes {
    /// Loads the programs for process `pid`. `sample_bytes` 0 copies the stack of every
    /// allocation; otherwise `thresholds[i]` is the probability × 2³² that an allocation of a
    /// size in bucket `i` (of `sample_bytes / 64`) carries its stack, `seed` starts the sampler.
    ///
    /// # Errors
    /// [`Error::Bpf`] when the kernel refuses the object (no BPF, no permission, a lockdown).
    pub fn load(pid: u32, sample_bytes: u64, thresholds: &[u32; 64], seed: u64) -> Result<Self> {
        let mut ebpf = EbpfLoader::new()
            .load(OBJECT)
            .map_err(|e| bpf_err("loading the BPF object", e))?;
        {
            let ns = std::fs::metadata("/proc/self/ns/pid")
                .map_err(|e| bpf_err("reading memlink's PID namespace", e))?;
            let mut cfg: Array<_, [u64; 5]> = Array::try_from(
                ebpf.map_mut("CONFIG")
                    .ok_or_else(|| bpf_err("map CONFIG", "missing"))?,
            )
            .map_err(|e| bpf_err("map CONFIG", e))?;
            cfg.set(
                0,
                [u64::from(pid), sample_bytes, seed, ns.dev(), ns.ino()],
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
        for name in [
            "malloc_enter",
            "calloc_enter",
            "realloc_enter",
            "reallocarray_enter",
            "memalign_enter",
            "posix_memalign_enter",
            "alloc_return",
            "posix_memalign_return",
            "free_enter",
        ] {
            let p: &mut UProbe = ebpf
                .program_mut(name)
                .ok_or_else(|| bpf_err(name, "missing from the object"))?
                .try_into()
                .map_err(|e| bpf_err(name, e))?;
            p.load()
                .map_err(|e| bpf_err(&format!("loading {name}"), e))?;
        }
        let ring = RingBuf::try_from(
            ebpf.take_map("EVENTS")
                .ok_or_else(|| bpf_err("map EVENTS", "missing"))?,
        )
        .map_err(|e| bpf_err("map EVENTS", e))?;
        Ok(ExactProbes {
            ebpf,
            ring,
            attached: 0,
        })
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
            let p: &mut UProbe = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| bpf_err(name, "missing from the object"))?
                .try_into()
                .map_err(|e| bpf_err(name, e))?;
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
