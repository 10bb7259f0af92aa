//! Transparent huge pages for the server's in-memory model.
//!
//! A check reads a few cache lines scattered over a model of hundreds of megabytes; with 4 KiB
//! pages most of those reads also miss the TLB. Hosts commonly run transparent huge pages in
//! `madvise` mode, where memory gets 2 MiB pages only when the program asks, and glibc's
//! allocator asks only when its `glibc.malloc.hugetlb` tunable is set (glibc 2.35 and later;
//! older ones ignore it). Tunables are read when a process starts, so `serve` starts itself
//! once more with the tunable added. Measured in BENCHMARKS.md (a sixth off a check at a
//! million bindings).

/// The glibc tunable that makes malloc advise transparent huge pages for its large regions.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TUNABLE: &str = "glibc.malloc.hugetlb=1";

/// Set in the re-executed process, so it never re-executes again: glibc drops tunables in
/// secure mode (setuid, file capabilities), and the tunable alone would then not show that the
/// step was taken.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MARKER: &str = "BREAKGLASS_HUGE_PAGES_STARTED";

/// Replaces this process (same pid, binary, arguments and environment) with one whose allocator
/// uses transparent huge pages, unless this process is already that one,
/// `BREAKGLASS_HUGE_PAGES` is `off` (or `0`, `false`, `no`), or this is not Linux with glibc.
/// Returns only when it did not replace the process; a failed `exec` leaves it running as it
/// was.
pub fn use_huge_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::OsString;
        use std::os::unix::process::CommandExt;

        let opted_out = std::env::var_os("BREAKGLASS_HUGE_PAGES")
            .is_some_and(|v| ["off", "0", "false", "no"].iter().any(|no| v.eq_ignore_ascii_case(no)));
        if opted_out || std::env::var_os(MARKER).is_some() {
            return;
        }
        let mut tunables = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
        if !tunables.is_empty() {
            tunables.push(":");
        }
        tunables.push(TUNABLE);
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| OsString::from("breakglass"));
        // /proc/self/exe is this very binary, even if a new one was installed at its path since.
        let failed = std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(args)
            .env("GLIBC_TUNABLES", tunables)
            .env(MARKER, "1")
            .exec();
        eprintln!("note: running without transparent huge pages: {failed}");
    }
}
