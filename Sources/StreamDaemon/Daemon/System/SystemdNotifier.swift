import CSystemd
import Foundation

/// The service manager's side channel (`sd_notify`): READY, RELOADING, STOPPING, STATUS and
/// WATCHDOG. Without `NOTIFY_SOCKET` in the environment (not under systemd) every call is a
/// no-op, as libsystemd makes it.
struct SystemdNotifier: Sendable {
    /// The watchdog period `WatchdogSec=` asks for, in seconds; nil when there is none.
    let watchdogInterval: Double?

    init() {
        var usec: UInt64 = 0
        watchdogInterval = sd_watchdog_enabled(0, &usec) > 0 && usec > 0 ? Double(usec) / 1e6 : nil
    }

    var isSupervised: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    /// RELOADING=1 with the monotonic time systemd 253+ wants alongside it.
    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(usec)\nSTATUS=reloading configuration")
    }

    func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }
    func status(_ text: String) { send("STATUS=\(text)") }
    func watchdog() { send("WATCHDOG=1") }

    private func send(_ message: String) {
        _ = sd_notify(0, message)
    }
}
