//! Control groups: which cgroup a process is in (`/proc/PID/cgroup`, v2 and v1), which
//! container, pod or systemd unit that cgroup belongs to (recognised from the path patterns of
//! docker, containerd/Kubernetes, CRI-O, podman, LXC and systemd), and the cgroup's memory
//! figures (`memory.current`, `memory.max`, `memory.stat` on v2; `memory.usage_in_bytes`,
//! `memory.limit_in_bytes`, `memory.stat` on v1).
//!
//! Parsing is pure; [`read_memory`] is the one function that reads the cgroup filesystem.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The cgroup hierarchy a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// The unified hierarchy (`0::/path`).
    V2,
    /// The v1 memory controller (`N:memory:/path`).
    V1,
}

/// A process's memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cgroup {
    /// Which hierarchy.
    pub version: Version,
    /// The path inside the hierarchy (`/system.slice/foo.service`).
    pub path: String,
}

/// Parses `/proc/PID/cgroup` and picks the memory cgroup: the v1 `memory` controller's line when
/// the machine still uses v1 for memory, otherwise the unified `0::` line.
pub(crate) fn parse_proc_cgroup(bytes: &[u8]) -> Option<Cgroup> {
    let text = String::from_utf8_lossy(bytes);
    let mut v2 = None;
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if ctrls.split(',').any(|c| c == "memory") {
            return Some(Cgroup {
                version: Version::V1,
                path: path.to_string(),
            });
        }
        if id == "0" && ctrls.is_empty() {
            v2 = Some(Cgroup {
                version: Version::V2,
                path: path.to_string(),
            });
        }
    }
    v2
}

/// The kind of thing that owns a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Docker (cgroupfs `/docker/ID` or systemd `docker-ID.scope`).
    Docker,
    /// containerd (`cri-containerd-ID.scope`, or under `/kubepods`).
    Containerd,
    /// CRI-O (`crio-ID.scope`).
    Crio,
    /// Podman (`libpod-ID.scope`).
    Podman,
    /// LXC (`/lxc/NAME`, `/lxc.payload.NAME`).
    Lxc,
    /// A systemd service or scope that is not a container.
    Systemd,
}

/// What a cgroup path says about its owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Container {
    /// The runtime.
    pub runtime: Runtime,
    /// The container ID (64 hex digits), LXC name, or systemd unit name.
    pub id: String,
    /// The Kubernetes pod UID, when the path is under `kubepods`.
    pub pod: Option<String>,
}

impl Container {
    /// A short display name: `docker:0123456789ab`, `k8s:POD/0123456789ab`, `systemd:foo.service`.
    pub fn short(&self) -> String {
        let id: String = if self.runtime == Runtime::Systemd || self.runtime == Runtime::Lxc {
            self.id.clone()
        } else {
            self.id.chars().take(12).collect()
        };
        match &self.pod {
            Some(pod) => format!("k8s:{pod}/{id}"),
            None => format!("{}:{id}", self.runtime.name()),
        }
    }
}

impl Runtime {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
            Runtime::Podman => "podman",
            Runtime::Lxc => "lxc",
            Runtime::Systemd => "systemd",
        }
    }
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Recognises the container, pod or unit a cgroup path belongs to. The innermost match wins.
pub fn recognise(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pod = parts.iter().find_map(|p| pod_uid(p));
    let in_kube = parts.iter().any(|p| p.starts_with("kubepods"));
    for (i, part) in parts.iter().enumerate().rev() {
        let scope = part.strip_suffix(".scope").unwrap_or(part);
        for (prefix, runtime) in [
            ("docker-", Runtime::Docker),
            ("cri-containerd-", Runtime::Containerd),
            ("crio-", Runtime::Crio),
            ("libpod-", Runtime::Podman),
        ] {
            if let Some(id) = scope.strip_prefix(prefix) {
                if is_container_id(id) {
                    return Some(Container {
                        runtime,
                        id: id.to_string(),
                        pod: pod.clone(),
                    });
                }
            }
        }
        if is_container_id(part) {
            let runtime = match parts.get(i.wrapping_sub(1)).copied() {
                Some("docker") => Runtime::Docker,
                Some(p) if p.starts_with("libpod") || p == "machine.slice" => Runtime::Podman,
                _ if in_kube => Runtime::Containerd,
                _ => Runtime::Docker,
            };
            return Some(Container {
                runtime,
                id: part.to_string(),
                pod: pod.clone(),
            });
        }
        if let Some(name) = part.strip_prefix("lxc.payload.") {
            return Some(lxc(name));
        }
        if i > 0 && parts[i - 1] == "lxc" {
            return Some(lxc(part));
        }
    }
    if let Some(pod) = pod {
        return Some(Container {
            runtime: Runtime::Containerd,
            id: String::new(),
            pod: Some(pod),
        });
    }
    parts
        .iter()
        .rev()
        .find(|p| p.ends_with(".service") || p.ends_with(".scope"))
        .map(|unit| Container {
            runtime: Runtime::Systemd,
            id: unit.to_string(),
            pod: None,
        })
}

fn lxc(name: &str) -> Container {
    Container {
        runtime: Runtime::Lxc,
        id: name.to_string(),
        pod: None,
    }
}

/// `pod<UID>` (cgroupfs driver) or `kubepods-QOS-pod<UID_with_underscores>.slice` (systemd).
fn pod_uid(part: &str) -> Option<String> {
    let s = part.strip_suffix(".slice").unwrap_or(part);
    let at = s.rfind("pod")?;
    if at > 0 && !s[..at].ends_with('-') {
        return None;
    }
    let uid = &s[at + 3..];
    let ok = uid.len() >= 32
        && uid
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b'-' || c == b'_');
    ok.then(|| uid.replace('_', "-"))
}

/// A cgroup's memory figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryFigures {
    /// `memory.current` (v2) or `memory.usage_in_bytes` (v1).
    pub current: Option<u64>,
    /// `memory.max` (v2) or `memory.limit_in_bytes` (v1); `None` when unlimited.
    pub max: Option<u64>,
    /// Key lines of `memory.stat`, in bytes: anon, file, shmem, kernel_stack, sock,
    /// file_mapped, file_dirty (v2) or rss, cache, shmem, mapped_file, dirty, swap (v1).
    pub stat: Vec<(String, u64)>,
}

const V2_KEYS: &[&str] = &[
    "anon",
    "file",
    "shmem",
    "kernel_stack",
    "sock",
    "file_mapped",
    "file_dirty",
];
const V1_KEYS: &[&str] = &["rss", "cache", "shmem", "mapped_file", "dirty", "swap"];

/// Parses a single-number file (`memory.current`); `max` and v1's huge "unlimited" value give
/// `None`.
pub(crate) fn parse_limit(bytes: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(bytes).ok()?.trim();
    let v: u64 = s.parse().ok()?;
    // v1 reports "no limit" as PAGE_COUNTER_MAX * page size, close to i64::MAX.
    (v < (1u64 << 62)).then_some(v)
}

/// Parses `memory.stat`, keeping the key lines for `version`.
pub(crate) fn parse_memory_stat(bytes: &[u8], version: Version) -> Vec<(String, u64)> {
    let keys = match version {
        Version::V2 => V2_KEYS,
        Version::V1 => V1_KEYS,
    };
    let text = String::from_utf8_lossy(bytes);
    let mut out: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            let v = v.trim().parse().ok()?;
            keys.contains(&k).then(|| (k.to_string(), v))
        })
        .collect();
    out.sort_by_key(|(k, _)| keys.iter().position(|x| x == k));
    out
}

/// Where the hierarchies are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounts {
    /// The unified hierarchy (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
    pub v2: Option<PathBuf>,
    /// The v1 memory controller (`/sys/fs/cgroup/memory`).
    pub v1_memory: Option<PathBuf>,
}

impl Mounts {
    /// Looks under `root` (normally `/sys/fs/cgroup`).
    pub fn find(root: &Path) -> Mounts {
        let v2 = [root.to_path_buf(), root.join("unified")]
            .into_iter()
            .find(|p| p.join("cgroup.controllers").exists());
        let v1 = root.join("memory");
        Mounts {
            v2,
            v1_memory: v1.join("memory.stat").exists().then_some(v1),
        }
    }
}

/// Reads a cgroup's memory figures. Files that cannot be read are left out (`None`, empty).
pub fn read_memory(mounts: &Mounts, cg: &Cgroup) -> MemoryFigures {
    let rel = cg.path.trim_start_matches('/');
    let dir = match cg.version {
        Version::V2 => mounts.v2.as_ref(),
        Version::V1 => mounts.v1_memory.as_ref(),
    };
    let Some(dir) = dir.map(|d| d.join(rel)) else {
        return MemoryFigures::default();
    };
    read_memory_dir(&dir, cg.version)
}

/// Reads the memory files of the cgroup directory `dir`.
pub(crate) fn read_memory_dir(dir: &Path, version: Version) -> MemoryFigures {
    let (current, max) = match version {
        Version::V2 => ("memory.current", "memory.max"),
        Version::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
    };
    let read = |n: &str| std::fs::read(dir.join(n)).ok();
    MemoryFigures {
        current: read(current).and_then(|b| parse_limit(&b)),
        max: read(max).and_then(|b| parse_limit(&b)),
        stat: read("memory.stat")
            .map(|b| parse_memory_stat(&b, version))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_memory_cgroup() {
        let v1 = b"9:name=systemd:/\n4:memory:/process_api/474feeec\n1:cpu:/\n0::/\n";
        assert_eq!(
            parse_proc_cgroup(v1),
            Some(Cgroup {
                version: Version::V1,
                path: "/process_api/474feeec".into()
            })
        );
        let v2 = b"0::/user.slice/user-1000.slice/session-2.scope\n";
        let cg = parse_proc_cgroup(v2).unwrap();
        assert_eq!(cg.version, Version::V2);
        assert_eq!(cg.path, "/user.slice/user-1000.slice/session-2.scope");
        assert_eq!(parse_proc_cgroup(b""), None);
    }

    const ID: &str = "4f1b3c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";

    #[test]
    fn recognises_runtimes() {
        let c = recognise(&format!("/docker/{ID}")).unwrap();
        assert_eq!((c.runtime, c.id.as_str()), (Runtime::Docker, ID));
        assert_eq!(c.short(), "docker:4f1b3c2d5e6f");
        let c = recognise(&format!("/system.slice/docker-{ID}.scope")).unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
        let c = recognise(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d9b3e4a_1c2d_4e5f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-{ID}.scope"
        ))
        .unwrap();
        assert_eq!(c.runtime, Runtime::Containerd);
        assert_eq!(
            c.pod.as_deref(),
            Some("0d9b3e4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
        );
        let c = recognise(&format!(
            "/kubepods/besteffort/pod0d9b3e4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b/{ID}"
        ))
        .unwrap();
        assert_eq!(c.runtime, Runtime::Containerd);
        assert!(c.pod.is_some());
        let c = recognise(&format!("/kubepods.slice/kubepods-pod0d9b3e4a_1c2d_4e5f_8a9b_0c1d2e3f4a5b.slice/crio-{ID}.scope")).unwrap();
        assert_eq!(c.runtime, Runtime::Crio);
        let c = recognise(&format!(
            "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
        ))
        .unwrap();
        assert_eq!(c.runtime, Runtime::Podman);
        let c = recognise("/lxc.payload.web1").unwrap();
        assert_eq!((c.runtime, c.id.as_str()), (Runtime::Lxc, "web1"));
        let c = recognise("/system.slice/nginx.service").unwrap();
        assert_eq!(c.short(), "systemd:nginx.service");
        assert_eq!(recognise("/"), None);
        assert_eq!(
            recognise("/process_api/474feeec54a4d2bd7cd8cb889fc485e7"),
            None
        );
    }

    fn capture(dir: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cgroup")
            .join(dir)
    }

    #[test]
    fn reads_captured_v2_files() {
        let m = read_memory_dir(&capture("v2-docker"), Version::V2);
        assert_eq!(m.current, Some(52_994_048));
        assert_eq!(m.max, Some(268_435_456));
        assert_eq!(m.stat[0], ("anon".to_string(), 31_584_256));
        assert!(m.stat.iter().any(|(k, _)| k == "kernel_stack"));
        let m = read_memory_dir(&capture("v2-unlimited"), Version::V2);
        assert_eq!(m.max, None);
        assert!(m.current.is_some());
    }

    #[test]
    fn v1_unlimited() {
        assert_eq!(parse_limit(b"9223372036854771712\n"), None);
        assert_eq!(parse_limit(b"max\n"), None);
        assert_eq!(parse_limit(b"4096\n"), Some(4096));
        let s = parse_memory_stat(b"cache 10\nrss 20\nfoo 3\nswap 0\n", Version::V1);
        assert_eq!(
            s,
            vec![("rss".into(), 20), ("cache".into(), 10), ("swap".into(), 0)]
        );
    }
}
