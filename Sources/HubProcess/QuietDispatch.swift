#if canImport(Glibc)
    import Glibc
#endif

/// libdispatch renices its worker threads by quality of service and writes a line to syslog each
/// time the kernel refuses ("Failed to set thread priority for worker thread … errno=13"): in
/// every process that is not allowed to raise its priority — homehubd and its plugins under the
/// unit's sandbox, hubctl run by a household member. The refusal changes nothing, so the hub's
/// executables turn libdispatch's log off at their start, unless `LIBDISPATCH_LOG` says
/// otherwise (`LIBDISPATCH_LOG=stderr` shows it, with libdispatch's other diagnostics).
public enum QuietDispatch {
    public static func atStart() {
        setenv("LIBDISPATCH_LOG", "NO", 0)
    }
}
