import Foundation
import Synchronization

/// Where records go. A sink is driven by the output thread alone (write, flush, close), but
/// its counters are read from anywhere (metrics).
protocol RecordSink: AnyObject, Sendable {
    /// `stdout`, `file:/path`, `mqtt:host:port`: names the sink in logs and metrics.
    var name: String { get }
    /// Writes one JSON line (ending in a newline). `stream` is the record's stream id.
    func write(_ line: [UInt8], stream: String) throws(SinkFailure)
    /// Pushes out anything buffered, waiting at most until `deadline` (monotonic seconds).
    func flush(deadline: Double)
    func close()
    var counters: SinkCounters { get }
}

/// Why a write failed. `closed` means the sink can never take another record (stdout's reader
/// went away): the daemon stops. Anything else is counted and logged, and records go on.
enum SinkFailure: Error, Equatable {
    case closed(String)
    case failed(String)
}

struct SinkCounters: Sendable, Equatable {
    /// Records handed on (to the OS, or to the MQTT library's queue).
    var records = 0
    /// Records refused because a bounded buffer was full.
    var dropped = 0
    /// Failed writes.
    var errors = 0
    /// Rotations (file sink) or reconnects (MQTT).
    var rotations = 0
    var connected: Bool?
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Returns errno on failure.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += written
    }
    return nil
}

/// Standard output (or any inherited descriptor). The daemon ignores SIGPIPE, so a reader
/// that goes away shows up here as EPIPE: the sink reports itself closed and the daemon exits
/// cleanly.
final class DescriptorSink: RecordSink, @unchecked Sendable {
    let name: String
    private let fd: Int32
    private let state = Mutex(SinkCounters())
    private var isClosed = false

    init(fd: Int32 = 1, name: String = "stdout") {
        self.fd = fd
        self.name = name
    }

    func write(_ line: [UInt8], stream: String) throws(SinkFailure) {
        if isClosed { throw .closed("\(name) is closed") }
        if let code = writeAll(fd, line) {
            state.withLock { $0.errors += 1 }
            if code == EPIPE || code == EBADF {
                isClosed = true
                throw .closed("\(name) was closed by its reader (\(String(cString: strerror(code))))")
            }
            throw .failed("\(name): \(String(cString: strerror(code)))")
        }
        state.withLock { $0.records += 1 }
    }

    func flush(deadline: Double) {}
    func close() {}
    var counters: SinkCounters { state.withLock { $0 } }
}
