//! Reads every mapping of a process with the `procfs` crate's smaps parser, the way a tool built
//! on it would, and prints the summed RSS (so the work cannot be optimised away).
fn main() {
    let pid: i32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).expect("usage: procfs-peer PID");
    let detailed = std::env::args().nth(2).as_deref() != Some("maps");
    let p = procfs::process::Process::new(pid).expect("process");
    let maps = if detailed { p.smaps().expect("smaps") } else { p.maps().expect("maps") };
    let rss: u64 = maps
        .iter()
        .filter_map(|m| m.extension.map.get("Rss").copied())
        .sum();
    println!("{} mappings, rss {}", maps.len(), rss);
}
