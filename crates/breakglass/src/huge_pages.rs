//! Transparent huge pages for the server's in-memory model.
//!
//! A check reads a few cache lines scattered over a model of hundreds of megabytes; with 4 KiB
//! pages most of those reads also miss the TLB. Hosts commonly run transparent huge pages in
//! `madvise` mode, where memory gets 2 MiB pages only when the program asks, and glibc's
//! allocator asks only when its `glibc.malloc.hugetlb` tunable is set (glibc 2.35 and later;
//! older ones ignore it). Tunables are read when a process starts, so `serve` starts itself
//! once more with the tunable added. Measured in BENCHMARKS.md (a fifth off a check at a
//! million bindings).

/// The glibc tunable that makes malloc advise transparent huge pages for its large regions.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TUNABLE: &str = "glibc.malloc.hugetlb";

/// Replaces this process (same pid, arguments and environment) with one whose allocator uses
/// transparent huge pages, unless it already does, `BREAKGLASS_HUGE_PAGES=off` says not to, or
/// this is not Linux with glibc. Returns only when it did not replace the process; a failed
/// `exec` (say, the binary was replaced on disk) leaves it running as it was.
pub fn use_huge_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        if std::env::var_os("BREAKGLASS_HUGE_PAGES").is_some_and(|v| v == "off") {
            return;
        }
        let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        if current.contains(TUNABLE) {
            return;
        }
        let Ok(exe) = std::env::current_exe() else { return };
        let tunables =
            if current.is_empty() { format!("{TUNABLE}=1") } else { format!("{current}:{TUNABLE}=1") };
        let failed = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", tunables)
            .exec();
        eprintln!("note: running without transparent huge pages: {failed}");
    }
}
