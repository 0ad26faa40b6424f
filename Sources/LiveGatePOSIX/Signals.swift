import Glibc

/// Process signals: termination requests are blocked in every thread and collected by one
/// waiting thread with `sigwait`, so no handler runs in the middle of a loop.
public enum Signals {
    /// Ignores `SIGPIPE` and blocks `SIGINT`, `SIGTERM` and `SIGHUP`. Call before starting
    /// any thread, so the threads inherit the mask.
    public static func blockTerminationSignals() {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits for `SIGINT`, `SIGTERM` or `SIGHUP` and returns its number.
    public static func waitForTerminationSignal() -> CInt {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        var received: CInt = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    /// The name of a signal number, for logs.
    public static func name(_ signal: CInt) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }
}
