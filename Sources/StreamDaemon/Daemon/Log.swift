import Foundation
import Synchronization

/// The daemon's log: one line per message on stderr. When stderr is the journal
/// (`JOURNAL_STREAM` set by systemd) each line carries a `<N>` syslog priority prefix so
/// journald files it at the right level; otherwise lines read `qrt-detr: warning: …`.
///
/// Thread-safe; the level can change at run time (config reload).
final class Log: Sendable {
    static let shared = Log()

    private let level = Atomic<Int>(2)
    private let lock = Mutex(())
    private let journal: Bool

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        journal = environment["JOURNAL_STREAM"] != nil
    }

    var currentLevel: LogLevel { LogLevel.allCases[level.load(ordering: .relaxed)] }

    func setLevel(_ newLevel: LogLevel) {
        level.store(LogLevel.allCases.firstIndex(of: newLevel)!, ordering: .relaxed)
    }

    func enabled(_ messageLevel: LogLevel) -> Bool {
        LogLevel.allCases.firstIndex(of: messageLevel)! <= level.load(ordering: .relaxed)
    }

    func error(_ message: @autoclosure () -> String) { write(.error, message()) }
    func warning(_ message: @autoclosure () -> String) { write(.warning, message()) }
    func info(_ message: @autoclosure () -> String) { write(.info, message()) }
    func debug(_ message: @autoclosure () -> String) {
        if enabled(.debug) { write(.debug, message()) }
    }

    private func write(_ messageLevel: LogLevel, _ message: String) {
        guard enabled(messageLevel) else { return }
        let text = message.map { $0.isNewline ? " " : $0 }
        let line: String
        if journal {
            let priority = switch messageLevel {
            case .error: 3
            case .warning: 4
            case .info: 6
            case .debug: 7
            }
            line = "<\(priority)>\(String(text))\n"
        } else {
            line = "qrt-detr: \(messageLevel.rawValue): \(String(text))\n"
        }
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
            bytes.removeAll()
        }
    }
}
