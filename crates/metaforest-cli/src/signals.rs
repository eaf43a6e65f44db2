//! SIGINT and SIGTERM remove the temporary files of model saves in progress before the process exits
//! (with the usual 128 + signal status), so an interrupted `train` or `adapt` leaves no orphan behind.

/// Blocks SIGINT and SIGTERM in every thread and waits for them on one of its own. Call it before any
/// other thread starts (threads inherit the blocked set).
pub fn remove_temporary_files_on_signals() {
    #[cfg(unix)]
    // SAFETY: plain libc calls on a zero-initialised `sigset_t` filled by `sigemptyset`/`sigaddset`;
    // `_exit` is what the default disposition would do, after the files are removed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut signal = 0;
            if libc::sigwait(&set, &mut signal) == 0 {
                metaforest_forest::container::remove_temporary_files();
                libc::_exit(128 + signal);
            }
        });
    }
}
