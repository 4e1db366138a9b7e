import Foundation
import Synchronization

/// Signals only set flags; the daemon's loop acts on them (reload, stop) at its next turn.
/// SIGPIPE is ignored so a closed stdout surfaces as EPIPE on the write.
enum SignalFlags {
    static let terminate = Atomic<Bool>(false)
    static let reload = Atomic<Bool>(false)
    /// The signal that asked to terminate (SIGTERM or SIGINT).
    static let terminateSignal = Atomic<Int32>(0)

    static func install() {
        // Touch the globals before any handler can run: their lazy initialisation is not
        // async-signal-safe, a plain atomic store is.
        terminate.store(false, ordering: .relaxed)
        reload.store(false, ordering: .relaxed)
        terminateSignal.store(0, ordering: .relaxed)
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGTERM, SIGINT] {
            install(number) { signal in
                SignalFlags.terminateSignal.store(signal, ordering: .relaxed)
                SignalFlags.terminate.store(true, ordering: .relaxed)
            }
        }
        install(SIGHUP) { _ in SignalFlags.reload.store(true, ordering: .relaxed) }
        // A parent may have left these blocked (the mask is inherited across exec): unblock
        // them here, before the daemon starts its threads, which inherit this thread's mask.
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    private static func install(_ number: Int32, _ handler: @convention(c) (Int32) -> Void) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(number, &action, nil)
    }

    /// Consumes a pending reload request.
    static func takeReload() -> Bool { reload.exchange(false, ordering: .relaxed) }
}
